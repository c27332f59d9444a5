// Attempt marks: a mark outlives the process that made it (a crash loses nothing written
// into the shared mapping), a cleared or torn mark is no mark, and startup forgets only the
// marks it has read.
#include "embedded/attempt_marks.hpp"

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace ticketd;
using ticketd::test::temp_dir;
namespace fs = std::filesystem;

namespace {
const std::string job_a(32, 'a'), job_b(32, 'b');

size_t mark_files(const fs::path& dir) {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir)) n += e.path().extension() == ".mark";
    return n;
}
}  // namespace

TEST(attempt_marks, a_mark_outlives_a_process_killed_while_its_attempt_runs) {
    temp_dir dir("marks");
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        attempt_marks marks(dir.path);
        auto first = marks.open_slot();
        auto second = marks.open_slot();
        first->mark(job_a, 3);
        second->mark(job_b, 1);
        second->clear();  // returned before the crash
        std::raise(SIGKILL);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status));

    attempt_marks marks(dir.path);
    const auto left = marks.left_over();
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left.at(job_a).attempt, 3u);
    EXPECT_EQ(left.at(job_a).ended_process, 0u);  // killed from outside: nobody's doing
    EXPECT_EQ(mark_files(dir.path), 2u);

    auto live = marks.open_slot();  // a worker of the new process
    live->mark(job_b, 2);
    marks.forget_left_over();
    EXPECT_EQ(mark_files(dir.path), 1u);  // the live one stays
    live.reset();
    EXPECT_EQ(mark_files(dir.path), 0u);  // a worker that stops removes its mark
}

TEST(attempt_marks, a_torn_mark_is_no_mark) {
    temp_dir dir("marks");
    attempt_marks marks(dir.path);
    auto slot = marks.open_slot();
    slot->mark(job_a, 1);
    fs::path file;
    for (const auto& e : fs::directory_iterator(dir.path)) file = e.path();
    {
        attempt_marks reader(dir.path);
        EXPECT_EQ(reader.left_over().count(job_a), 1u);
    }
    // Change one byte of the job id, as a crash in the middle of writing the mark would.
    {
        std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(12);
        f.put('z');
    }
    attempt_marks reader(dir.path);
    EXPECT_TRUE(reader.left_over().empty());
}

namespace {
// In a child: two workers' marks, then `crash` on the second worker's thread; returns the
// marks the next process finds.
std::unordered_map<std::string, attempt_marks::left_over_mark> crash_on_a_worker(const fs::path& dir,
                                                                                 void (*crash)()) {
    const pid_t child = ::fork();
    if (child == 0) {
        const rlimit no_core{0, 0};
        ::setrlimit(RLIMIT_CORE, &no_core);
        attempt_marks::attribute_crashes();
        attempt_marks marks(dir);
        auto idle = marks.open_slot();
        idle->bind_to_this_thread();
        idle->mark(job_a, 1);  // a bystander, on this thread (waiting in join() when the crash comes)
        auto slot = marks.open_slot();
        std::thread worker([&] {
            slot->bind_to_this_thread();
            slot->mark(job_b, 2);
            crash();
        });
        worker.join();
        std::_Exit(0);  // not reached
    }
    int status = 0;
    EXPECT_EQ(::waitpid(child, &status, 0), child);
    attempt_marks marks(dir);
    return marks.left_over();
}

// A wild write that faults (a null store would be stopped by UBSan before any fault).
void write_to_a_forbidden_page() {
    void* page = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *static_cast<volatile int*>(page) = 1;
}

int deeper(int depth) {
    volatile char frame[4096];
    frame[0] = static_cast<char>(depth);
    if (depth == -1) return 0;
    return deeper(depth + 1) + frame[0];
}
}  // namespace

TEST(attempt_marks, a_crash_flags_only_the_attempt_on_the_thread_that_crashed) {
    struct crash_case {
        int expected;
        void (*crash)();
    };
    const crash_case cases[] = {
        {SIGSEGV, [] { write_to_a_forbidden_page(); }},
        {SIGABRT, [] { std::abort(); }},
        {SIGSEGV, [] { deeper(0); }},  // a stack overflow, caught on the alternate stack
        {SIGFPE, [] { std::raise(SIGFPE); }},
        {static_cast<int>(attempt_marks::exit_code_mark), [] { std::exit(0); }},
    };
    for (const auto& c : cases) {
        temp_dir dir("marks");
        const auto left = crash_on_a_worker(dir.path, c.crash);
        ASSERT_EQ(left.size(), 2u);
        EXPECT_EQ(left.at(job_b).attempt, 2u);
        EXPECT_EQ(left.at(job_b).ended_process, static_cast<uint32_t>(c.expected));
        EXPECT_EQ(left.at(job_a).ended_process, 0u);  // its thread did not crash
    }
}
