#include "system/durable_dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <vector>

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
    std::vector<std::filesystem::path> missing;  // deepest first
    for (auto p = dir; !p.empty() && !std::filesystem::exists(p); p = p.parent_path()) {
        missing.push_back(p);
        if (p == p.parent_path()) break;
    }
    if (missing.empty()) return;
    std::filesystem::create_directories(dir);
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) sync_directory(it->parent_path());
}

}  // namespace ticketd
