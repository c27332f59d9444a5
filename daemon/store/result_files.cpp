#include "store/result_files.hpp"

#include "system/durable_dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace ticketd {

result_files::result_files(std::filesystem::path dir) : dir_(std::move(dir)) {
    create_durable_directories(dir_);
}

void result_files::write(const std::string& job_id, std::string_view bytes) const {
    const auto final_path = path_of(job_id);
    const auto tmp_path = dir_ / (job_id + ".tmp");
    const int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) throw_errno("create " + tmp_path.string());
    size_t written = 0;
    while (written < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int saved = errno;
            ::close(fd);
            errno = saved;
            throw_errno("write " + tmp_path.string());
        }
        written += static_cast<size_t>(n);
    }
    if (::fdatasync(fd) != 0) {
        const int saved = errno;
        ::close(fd);
        errno = saved;
        throw_errno("fdatasync " + tmp_path.string());
    }
    ::close(fd);
    if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) throw_errno("rename " + final_path.string());
    sync_directory(dir_);
}

uint64_t result_files::adopt(const std::string& job_id, const std::filesystem::path& file) const {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("open the result file " + file.string());
    const int rc = ::fdatasync(fd);
    ::close(fd);
    if (rc != 0) throw_errno("fdatasync " + file.string());
    const uint64_t size = std::filesystem::file_size(file);
    if (::rename(file.c_str(), path_of(job_id).c_str()) != 0) throw_errno("rename " + file.string());
    sync_directory(dir_);
    return size;
}

void result_files::remove(const std::string& job_id) const noexcept {
    std::error_code ec;
    std::filesystem::remove(path_of(job_id), ec);
}

}  // namespace ticketd
