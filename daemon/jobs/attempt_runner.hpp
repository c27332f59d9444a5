// The worker threads of this node's job types. Each claims an attempt from the backend,
// runs the plugin with the attempt's timeout and scratch directory, passes its progress
// on, writes its result and finishes the attempt. A plugin that ignores a stop request
// (a cancel, its timeout) past cancel_grace is left behind: its job is finished without
// it, and a new worker takes its place in the pool.
#pragma once

#include "jobs/job_backend.hpp"
#include "jobs/job_type.hpp"
#include "system/scheduler.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>

namespace ticketd {

class attempt_runner {
   public:
    // Scratch directories of attempts live in `scratch_dir` (emptied now: those a crash
    // left behind are nobody's).
    attempt_runner(job_backend& backend, const type_registry& types, scheduler& timers,
                   std::filesystem::path scratch_dir, std::chrono::milliseconds cancel_grace);

    // Starts `count` more workers for the type. Workers hold a plain pointer to it:
    // whoever removes a type joins them before letting go.
    void start_workers(const job_type_ptr& rt, unsigned count);
    using attempt_ptr = std::shared_ptr<const claimed_attempt>;
    // Asks the attempt's plugin to stop; past cancel_grace its job is finished without it.
    void stop_with_grace(const attempt_ptr& attempt, stop_reason reason);
    // A drain: a worker left behind in a plugin is not replaced any more.
    void stop_replacing() { replacing_ = false; }

    // Results up to this size are committed with the job's state instead of a file.
    static constexpr size_t inline_result_limit = 64 * 1024;

   private:
    void worker_loop(job_type_runtime& rt, worker_seat& seat);
    // Runs one attempt; true when its worker was abandoned meanwhile (and so must leave).
    bool run(job_type_runtime& rt, worker_seat& seat, const attempt_ptr& attempt);
    void finish(job_type_runtime& rt, const claimed_attempt& attempt, job_context& ctx, ticketd_run_status status);
    void finish_without_plugin(const claimed_attempt& attempt);

    job_backend& backend_;
    const type_registry& types_;
    scheduler& timers_;
    const std::filesystem::path scratch_dir_;
    const std::chrono::milliseconds cancel_grace_;
    std::atomic<bool> replacing_{true};
};

}  // namespace ticketd
