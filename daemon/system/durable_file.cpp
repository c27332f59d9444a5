#include "system/durable_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
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

uint64_t rename_durably(const std::filesystem::path& file, const std::filesystem::path& to) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("open " + file.string());
    const int rc = ::fdatasync(fd);
    const int saved = errno;
    ::close(fd);
    errno = saved;
    if (rc != 0) throw_errno("fdatasync " + file.string());
    const uint64_t size = std::filesystem::file_size(file);
    if (::rename(file.c_str(), to.c_str()) != 0) throw_errno("rename " + file.string());
    sync_directory(to.parent_path());
    return size;
}

void write_file_durably(const std::filesystem::path& to, std::string_view bytes, unsigned mode) {
    const std::filesystem::path tmp = to.string() + ".tmp";
    // A new file of our own (a leftover or a planted symlink is removed, never followed),
    // with exactly `mode` whatever the umask, or the existing file's owner and mode.
    if (::unlink(tmp.c_str()) != 0 && errno != ENOENT) throw_errno("remove " + tmp.string());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) throw_errno("create " + tmp.string());
    struct stat old {};
    const bool exists = ::stat(to.c_str(), &old) == 0;
    const bool other_owner = exists && (old.st_uid != ::geteuid() || old.st_gid != ::getegid());
    if ((other_owner && ::fchown(fd, old.st_uid, old.st_gid) != 0) ||
        ::fchmod(fd, exists ? old.st_mode & 07777 : mode) != 0) {
        const int saved = errno;
        ::close(fd);
        errno = saved;
        throw_errno("keep the owner and mode of " + to.string());
    }
    size_t written = 0;
    while (written < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int saved = errno;
            ::close(fd);
            errno = saved;
            throw_errno("write " + tmp.string());
        }
        written += static_cast<size_t>(n);
    }
    ::close(fd);
    rename_durably(tmp, to);
}

void create_durable_directories(const std::filesystem::path& dir) {
    if (dir.empty() || std::filesystem::is_directory(dir)) return;
    create_durable_directories(dir.parent_path());
    if (std::filesystem::create_directory(dir)) sync_directory(dir.parent_path());
}

}  // namespace ticketd
