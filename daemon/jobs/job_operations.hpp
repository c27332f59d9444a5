// What a client does to the jobs that exist: read one, wait for it to change, cancel or
// delete it, list them, fetch a result. The same calls whether the job service (api/'s
// side) or a backend (where jobs live) answers them: the engine passes them through.
//
// Calls never block on disk; answers come through callbacks, exactly once, on whichever
// thread finished the work. Callbacks must not block.
#pragma once

#include "model/caller.hpp"
#include "model/job_query.hpp"
#include "model/outcomes.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ticketd {

class job_operations {
   public:
    virtual ~job_operations() = default;

    virtual void get(const std::string& id, const caller& who,
                     std::function<void(lookup_outcome)> done) = 0;
    // Long-poll: answers when the job's ETag differs from `etag` (empty: when it is
    // terminal), or at the deadline. Returns the waiter's id (0: answered at once), or
    // nullopt when the cap on waiters is reached (`done` is then never called).
    virtual std::optional<uint64_t> watch(const std::string& id, const caller& who,
                                          const std::string& etag, std::chrono::milliseconds wait,
                                          std::function<void(lookup_outcome)> done) = 0;
    // Drops a waiter whose client went away; its `done` is never called.
    virtual void unwatch(const std::string& id, uint64_t waiter_id) = 0;
    virtual void cancel(const std::string& id, const caller& who,
                        std::function<void(cancel_outcome)> done) = 0;
    virtual void remove(const std::string& id, const caller& who,
                        std::function<void(remove_status)> done) = 0;
    // Runs a failed or canceled job again: same id, queued for a new attempt, its history
    // kept. `max_live_jobs`: the caller's quota of queued and running jobs (0: none).
    virtual void rerun(const std::string& id, const caller& who, uint64_t max_live_jobs,
                       std::function<void(rerun_outcome)> done) = 0;
    virtual void list(const job_query& query, std::function<void(std::vector<job_record>)> done) = 0;
    // A succeeded job's result: a file (job_record::result_inline false) at this path, or
    // bytes kept with the job, read with read_result (nullopt: none).
    virtual std::filesystem::path result_path(const std::string& job_id) const = 0;
    virtual void read_result(const std::string& job_id, std::function<void(std::optional<std::string>)> done) = 0;
};

}  // namespace ticketd
