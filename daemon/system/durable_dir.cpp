#include "system/durable_dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace ticketd {

void throw_errno(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

void sync_directory(const std::filesystem::path& dir) {
    const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw_errno("open " + dir.string());
    const int rc = ::fsync(fd);
    const int saved = errno;
    ::close(fd);
    errno = saved;
    if (rc != 0) throw_errno("fsync " + dir.string());
}

void create_durable_directories(const std::filesystem::path& dir) {
    if (dir.empty() || std::filesystem::is_directory(dir)) return;
    create_durable_directories(dir.parent_path());
    if (std::filesystem::create_directory(dir)) sync_directory(dir.parent_path());
}

}  // namespace ticketd
