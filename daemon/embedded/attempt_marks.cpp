#include "embedded/attempt_marks.hpp"

#include "system/log.hpp"
#include "system/random_id.hpp"

#include <zlib.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace ticketd {

namespace {

// A slot file's bytes. `state` is written last when marking and first when clearing, and
// `check` covers the attempt and the job id, so a mark torn by a crash in the middle of
// writing it reads as no mark. `ended_process` is one aligned word, written (by a crash
// handler) only while the mark is set; files of the older, shorter layout read it as 0.
struct mark_bytes {
    uint32_t state;  // 1: marked
    uint32_t attempt;
    uint32_t check;
    char job_id[32];
    uint32_t ended_process;
};
constexpr size_t old_layout_size = offsetof(mark_bytes, ended_process);
constexpr uint32_t marked = 1;
constexpr const char* extension = ".mark";

// The calling worker's mark while it has one (initial-exec TLS of the executable: safe to
// read in a signal handler), and the process that bound it: a child forked on a worker
// thread inherits both, and what ends the child is not the parent's doing.
thread_local mark_bytes* this_thread_mark = nullptr;
thread_local pid_t this_thread_mark_pid = 0;
// One attempt is named per process, the first: a crash that a first one sets off on
// another thread (a plugin's exit() tearing down what others use) names nobody else.
std::atomic<bool> flagged{false};

constexpr int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
struct sigaction previous_actions[NSIG];

void flag_this_thread(uint32_t what) {
    mark_bytes* m = this_thread_mark;
    if (m == nullptr || this_thread_mark_pid != ::getpid()) return;
    if (std::atomic_ref<uint32_t>(m->state).load(std::memory_order_acquire) != marked) return;
    if (flagged.exchange(true)) return;
    std::atomic_ref<uint32_t>(m->ended_process).store(what, std::memory_order_release);
}

// Async-signal-safe: two stores, sigaction, raise.
void on_fatal_signal(int sig, siginfo_t* info, void*) {
    flag_this_thread(static_cast<uint32_t>(sig));
    // Then what would have happened: the previous handler, or the default action. A
    // fault comes back by itself when the instruction runs again; a sent signal (abort()
    // raises one) is raised again, and arrives once this handler returns.
    ::sigaction(sig, &previous_actions[sig], nullptr);
    if (info == nullptr || info->si_code <= 0) ::raise(sig);
}

void on_process_exit() { flag_this_thread(attempt_marks::exit_code_mark); }

// The alternate stack of a worker thread, for the crash handlers (a stack overflow leaves
// no room on the thread's own stack). Released when the thread ends.
struct alternate_stack {
    static constexpr size_t size = 64 * 1024;
    void* memory = MAP_FAILED;
    alternate_stack() {
        memory = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (memory == MAP_FAILED) return;
        stack_t ss{};
        ss.ss_sp = memory;
        ss.ss_size = size;
        ::sigaltstack(&ss, nullptr);
    }
    ~alternate_stack() {
        if (memory == MAP_FAILED) return;
        stack_t off{};
        off.ss_flags = SS_DISABLE;
        ::sigaltstack(&off, nullptr);
        ::munmap(memory, size);
    }
};

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
    if (this_thread_mark == static_cast<mark_bytes*>(map_)) this_thread_mark = nullptr;
    ::munmap(map_, sizeof(mark_bytes));
    ::close(fd_);
    std::error_code ec;
    std::filesystem::remove(file_, ec);
}

void attempt_marks::slot::mark(std::string_view job_id, uint32_t attempt) {
    auto& m = *static_cast<mark_bytes*>(map_);
    state_of(m).store(0, std::memory_order_relaxed);
    std::atomic_ref<uint32_t>(m.ended_process).store(0, std::memory_order_relaxed);
    m.attempt = attempt;
    std::memset(m.job_id, 0, sizeof m.job_id);
    std::memcpy(m.job_id, job_id.data(), std::min(job_id.size(), sizeof m.job_id));
    m.check = check_of(m);
    state_of(m).store(marked, std::memory_order_release);
}

void attempt_marks::slot::clear() {
    state_of(*static_cast<mark_bytes*>(map_)).store(0, std::memory_order_release);
}

void attempt_marks::slot::bind_to_this_thread() {
    thread_local alternate_stack stack;
    this_thread_mark = static_cast<mark_bytes*>(map_);
    this_thread_mark_pid = ::getpid();
}

void attempt_marks::attribute_crashes() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction action{};
        action.sa_sigaction = on_fatal_signal;
        action.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&action.sa_mask);
        for (int sig : fatal_signals) ::sigaction(sig, &action, &previous_actions[sig]);
        std::atexit(on_process_exit);
    });
}

attempt_marks::attempt_marks(std::filesystem::path dir) : dir_(std::move(dir)) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) throw std::runtime_error("cannot create " + dir_.string() + ": " + ec.message());
}

std::unordered_map<std::string, attempt_marks::left_over_mark> attempt_marks::left_over() {
    std::unordered_map<std::string, left_over_mark> marks;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
        if (entry.path().extension() != extension) continue;
        left_over_files_.push_back(entry.path());
        const int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            log_warning("recovery: cannot read " + entry.path().string() + ": " + std::strerror(errno));
            continue;
        }
        mark_bytes m{};
        const ssize_t n = ::pread(fd, &m, sizeof m, 0);
        ::close(fd);
        const bool whole = n == static_cast<ssize_t>(sizeof m) || n == static_cast<ssize_t>(old_layout_size);
        if (!whole || m.state != marked || m.check != check_of(m)) continue;  // cleared or torn
        marks[std::string(m.job_id, strnlen(m.job_id, sizeof m.job_id))] = {m.attempt, m.ended_process};
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
    // Its block is allocated now, not at the first store into the mapping: a store into a
    // hole of a full filesystem (tmpfs, or ext4 out of blocks) would fault with SIGBUS.
    void* map = MAP_FAILED;
    if (const int err = ::posix_fallocate(fd, 0, sizeof(mark_bytes)); err == 0) {
        map = ::mmap(nullptr, sizeof(mark_bytes), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    } else {
        errno = err;
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
