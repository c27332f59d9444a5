#include "jobs/attempt_marks.hpp"

#include "system/log.hpp"
#include "system/random_id.hpp"

#include <zlib.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace ticketd {

namespace {

// A slot file's bytes. `state` is written last when marking and first when clearing, and
// `check` covers the rest, so a mark torn by a crash in the middle of writing it reads as
// no mark.
struct mark_bytes {
    uint32_t state;  // 1: marked
    uint32_t attempt;
    uint32_t check;
    char job_id[32];
};
constexpr uint32_t marked = 1;
constexpr const char* extension = ".mark";

uint32_t check_of(const mark_bytes& m) {  // CRC-32, as the journal's records
    uLong crc = crc32(0, reinterpret_cast<const Bytef*>(&m.attempt), sizeof m.attempt);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(m.job_id), sizeof m.job_id);
    return static_cast<uint32_t>(crc);
}

std::atomic_ref<uint32_t> state_of(mark_bytes& m) { return std::atomic_ref<uint32_t>(m.state); }

}  // namespace

attempt_marks::slot::slot(std::filesystem::path file, int fd, void* map)
    : file_(std::move(file)), fd_(fd), map_(map) {}

attempt_marks::slot::~slot() {
    ::munmap(map_, sizeof(mark_bytes));
    ::close(fd_);
    std::error_code ec;
    std::filesystem::remove(file_, ec);
}

void attempt_marks::slot::mark(std::string_view job_id, uint32_t attempt) {
    auto& m = *static_cast<mark_bytes*>(map_);
    state_of(m).store(0, std::memory_order_relaxed);
    m.attempt = attempt;
    std::memset(m.job_id, 0, sizeof m.job_id);
    std::memcpy(m.job_id, job_id.data(), std::min(job_id.size(), sizeof m.job_id));
    m.check = check_of(m);
    state_of(m).store(marked, std::memory_order_release);
}

void attempt_marks::slot::clear() {
    state_of(*static_cast<mark_bytes*>(map_)).store(0, std::memory_order_release);
}

attempt_marks::attempt_marks(std::filesystem::path dir) : dir_(std::move(dir)) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) throw std::runtime_error("cannot create " + dir_.string() + ": " + ec.message());
}

std::unordered_map<std::string, uint32_t> attempt_marks::left_over() {
    std::unordered_map<std::string, uint32_t> marks;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
        if (entry.path().extension() != extension) continue;
        left_over_files_.push_back(entry.path());
        const int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            log_warning("recovery: cannot read " + entry.path().string() + ": " + std::strerror(errno));
            continue;
        }
        mark_bytes m{};
        const bool whole = ::pread(fd, &m, sizeof m, 0) == static_cast<ssize_t>(sizeof m);
        ::close(fd);
        if (!whole || m.state != marked || m.check != check_of(m)) continue;  // cleared or torn
        marks[std::string(m.job_id, strnlen(m.job_id, sizeof m.job_id))] = m.attempt;
    }
    return marks;
}

void attempt_marks::forget_left_over() {
    for (const auto& file : left_over_files_) {
        std::error_code ec;
        std::filesystem::remove(file, ec);
    }
    left_over_files_.clear();
}

std::unique_ptr<attempt_marks::slot> attempt_marks::open_slot() {
    const auto file = dir_ / (new_random_id() + extension);
    const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + file.string() + ": " + std::strerror(errno));
    void* map = MAP_FAILED;
    if (::ftruncate(fd, sizeof(mark_bytes)) == 0) {
        map = ::mmap(nullptr, sizeof(mark_bytes), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    }
    if (map == MAP_FAILED) {
        const std::string why = std::strerror(errno);
        ::close(fd);
        ::unlink(file.c_str());
        throw std::runtime_error("cannot map " + file.string() + ": " + why);
    }
    return std::unique_ptr<slot>(new slot(file, fd, map));
}

}  // namespace ticketd
