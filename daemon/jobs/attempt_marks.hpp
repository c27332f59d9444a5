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

       private:
        friend class attempt_marks;
        slot(std::filesystem::path file, int fd, void* map);
        std::filesystem::path file_;
        int fd_;
        void* map_;
    };

    // Marks live in `dir` (created if missing).
    explicit attempt_marks(std::filesystem::path dir);

    // Startup, before any worker runs: the attempts the last process had started and not
    // seen return (job id -> attempt).
    std::unordered_map<std::string, uint32_t> left_over();
    // Startup, once recovery has stored what left_over() said: deletes those marks' files.
    void forget_left_over();
    // A slot for a worker thread; throws std::runtime_error when the file cannot be made.
    std::unique_ptr<slot> open_slot();

   private:
    std::filesystem::path dir_;
    std::vector<std::filesystem::path> left_over_files_;  // read by left_over()
};

}  // namespace ticketd
