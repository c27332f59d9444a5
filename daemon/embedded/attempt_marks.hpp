// Which attempt each worker has started, kept in memory that outlives the process: one
// small file per worker, mapped MAP_SHARED. Its bytes live in the kernel's page cache, so
// a crash of the process (a plugin's SIGSEGV, abort(), kill -9) does not lose them, and
// marking costs a few stores: no system call, no thread hand-off, no fdatasync.
//
// Why: a plugin that crashes the daemon must use up its job's attempts, or the daemon
// would crash-loop on that job forever. That needs the attempt on record before the
// plugin starts. The `running` write gives it only once fdatasync'd (~0.1-2 ms on the
// latency path of every job run); a mark gives it at once. After a crash, recovery counts
// a marked attempt as interrupted even when the `running` write had not reached the
// journal. A power failure can lose a mark; that failure was not the plugin's doing.
// (Marks do not replace the `running` write: it stays the state clients see.)
//
// A mark also says whether its attempt ended the process: handlers for the fatal signals
// (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT), on an alternate stack so that a plugin's
// stack overflow is caught too, and an atexit hook (a plugin calling exit()) flag the
// attempt running on the thread where it happened, with a store into the mapping, then
// let the process end as it would have. Recovery then charges that attempt alone.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ticketd {

class attempt_marks {
   public:
    // One worker's mark. Removed with its file when the worker stops.
    class slot {
       public:
        ~slot();
        slot(const slot&) = delete;
        slot& operator=(const slot&) = delete;
        // Attempt `attempt` of job `job_id` (32 characters) starts now.
        void mark(std::string_view job_id, uint32_t attempt);
        // The attempt has returned (whatever happens next is not the plugin's doing).
        void clear();
        // Makes this the calling thread's slot, for the crash handlers (a worker calls it
        // once, first): gives the thread its alternate signal stack.
        void bind_to_this_thread();

       private:
        friend class attempt_marks;
        slot(std::filesystem::path file, int fd, void* map);
        std::filesystem::path file_;
        int fd_;
        void* map_;
    };

    // Marks live in `dir` (created if missing).
    explicit attempt_marks(std::filesystem::path dir);

    // Installs the crash handlers and the exit hook (once per process; later calls do
    // nothing). A handler that was there before (a sanitizer's, say) runs after ours.
    static void attribute_crashes();

    struct left_over_mark {
        uint32_t attempt = 0;
        // What ended the process during the attempt, on its thread: the signal's number,
        // exit_code_mark for exit(), 0 when it was not this attempt's doing (or unknown).
        uint32_t ended_process = 0;
    };
    static constexpr uint32_t exit_code_mark = 1000;

    // Startup, before any worker runs: the attempts the last process had started and not
    // seen return (job id -> what the mark says).
    std::unordered_map<std::string, left_over_mark> left_over();
    // Startup, once recovery has stored what left_over() said: deletes those marks' files.
    void forget_left_over();
    // A slot for a worker thread; throws std::runtime_error when the file cannot be made.
    std::unique_ptr<slot> open_slot();

   private:
    std::filesystem::path dir_;
    std::vector<std::filesystem::path> left_over_files_;  // read by left_over()
};

}  // namespace ticketd
