// Where jobs live, and the seam between what a ticketd node does by itself and what
// several nodes would have to share. The engine (jobs/) keeps what is node-local: the job
// types and their plugins, validation, the worker threads, an attempt's timeout and
// progress. A backend keeps everything else: the jobs and their states, the queues, the
// idempotency-key authority, long-poll wake-ups, cancellation, the crash rules, purging.
//
// The embedded backend (embedded/) is one process's: in-memory tables and queues over the
// journal + SQLite store. A networked one (PostgreSQL, several nodes) implements the same
// calls over shared tables: accept as one committed transaction, claim with
// FOR UPDATE SKIP LOCKED, finish fenced by the attempt number, wake-ups through
// LISTEN/NOTIFY (docs/architecture.md).
//
// Threads: every call may come from any thread and never blocks on disk (claim() blocks
// until there is work, on a worker's thread). Answers come through callbacks, on
// whichever thread finished the work; they must not block.
#pragma once

#include "jobs/job_events.hpp"
#include "jobs/job_operations.hpp"
#include "model/job_query.hpp"
#include "model/outcomes.hpp"
#include "model/retry_policy.hpp"
#include "model/submit.hpp"
#include "plugins/job_context.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ticketd {

// One job type's queue of work, as the engine sees it: the backend fills it, workers
// claim from it. Capacity counts queued jobs and accepts being committed, so a full queue
// is refused before anything is stored.
class work_queue {
   public:
    virtual ~work_queue() = default;
    virtual const std::string& type() const = 0;
    // Claims return nothing from now on (the jobs stay stored, and run after a restart).
    virtual void close() = 0;
    // The next `workers` claims return nothing at once (the pool shrinks on reload).
    virtual void retire(unsigned workers) = 0;
    virtual void set_capacity(uint64_t capacity) = 0;
    virtual uint64_t capacity() const = 0;
    virtual uint64_t size() const = 0;
    // Of those, the jobs waiting out a retry's backoff.
    virtual uint64_t waiting_to_retry() const = 0;
    // Scheduled jobs, not yet due (not counted in size()).
    virtual uint64_t scheduled() const = 0;
    // created_at of the oldest queued job (0 when empty).
    virtual unix_ms oldest_created_at() const = 0;
    // A reload took the type out (or replaced it): accepts of it are refused.
    virtual bool retired() const = 0;
    // Paused (job_backend::set_paused): its queued jobs wait, nothing new starts.
    virtual bool paused() const = 0;
};

// A worker's place, opened once per worker thread: the embedded backend keeps the
// worker's attempt mark in it (embedded/attempt_marks.hpp).
class worker_seat {
   public:
    virtual ~worker_seat() = default;
    // Called once, first, on the worker's own thread.
    virtual void bind_to_this_thread() = 0;
    // The plugin has returned from the seat's current attempt.
    virtual void returned() = 0;
};

// An attempt a worker claimed: the job as it started (running, its attempt counted),
// and the control through which stop requests reach the plugin. The control is also the
// attempt's identity: a finish is taken only from the attempt the job is still on.
struct claimed_attempt {
    job_record job;
    std::shared_ptr<run_control> control;
    std::map<std::string, std::string> input_files;  // the uploads it reads: name -> local path
    std::shared_ptr<void> handle;                    // the backend's own
};

// What a backend needs to know of a job type; its configuration may change on reload.
// (The defaults are those of a job whose type this node does not have.)
struct job_type_rules {
    int64_t retention_ms = 7LL * 24 * 3600'000;
    retry_policy retry;  // the default: one attempt
};

// The node's side, which the backend calls back.
class job_backend_host {
   public:
    virtual ~job_backend_host() = default;
    // The rules of a configured type (nullopt: not configured on this node).
    virtual std::optional<job_type_rules> rules(const std::string& type) const = 0;
    // A cancel reached an attempt this node runs: stop its plugin (with a grace period).
    virtual void cancel_requested(const claimed_attempt& attempt) = 0;
};

// Besides the operations on existing jobs (job_operations.hpp):
class job_backend : public job_operations {
   public:
    // Set once, before recover().
    virtual void attach(job_backend_host& host) = 0;
    // The queue of a job type this node has (not yet used: see set_queues).
    virtual std::shared_ptr<work_queue> make_queue(const std::string& type, uint64_t capacity,
                                                   job_type_events& events) = 0;
    // Makes `queues` the job types this node serves. Queues in `retiring` (each with how
    // many of its workers are still busy) are taken out: all or nothing, refused
    // (std::runtime_error saying why) while one still has unfinished jobs, accepts being
    // committed or busy workers. Queued jobs of a type whose queue is new go into it.
    using retiring_queue = std::pair<work_queue*, unsigned>;
    virtual void set_queues(const std::vector<work_queue*>& queues, const std::vector<retiring_queue>& retiring) = 0;

    // Startup (blocking): load what is stored and apply the crash rules.
    virtual void recover() = 0;
    // From now on expired jobs, keys and tombstones are purged.
    virtual void start() = 0;
    // Accepts are refused (503) from now on, and nothing new is claimed.
    virtual void stop_accepting() = 0;
    // Why jobs cannot be made durable now (empty: they can).
    virtual std::string trouble() const = 0;

    // Pauses a job type (its queued jobs wait; running ones finish) or resumes it, for
    // good: the pause survives a restart, and holds for a type whose queue comes later.
    // `done` hears whether it was stored (when not, nothing changed).
    virtual void set_paused(const std::string& type, bool paused, std::function<void(bool ok)> done) = 0;

    // A submit the plugin validated: the key (replay, 422, 409), the queue's capacity,
    // the uploads, then the job and its key made durable before `done` hears `accepted`.
    // (The queue is shared: an accept being committed keeps it.)
    virtual void accept(std::shared_ptr<work_queue> queue, submit_request request,
                        std::function<void(submit_outcome)> done) = 0;

    // A worker's place (never null).
    virtual std::unique_ptr<worker_seat> open_seat(const std::string& type) = 0;
    // Blocks until a job of the queue's type can start, then starts it; nullopt once the
    // queue is closed or retires this worker. The attempt is on record before this
    // returns, so that whatever its plugin does (crash the process) uses it up.
    virtual std::optional<claimed_attempt> claim(work_queue& queue, worker_seat& seat) = 0;
    // The plugin's progress, shown to clients (and to waiters) at once.
    virtual void progress(const claimed_attempt& attempt, double percent, std::string message) = 0;
    // Ends the attempt with the job state `next` makes of the current one (a terminal state,
    // or queued again), `result` committed with it (a small result). False when the
    // attempt no longer holds the job (deleted, or already finished without its plugin):
    // nothing is written. `committed` runs once the new state is durable (or failed).
    using next_state = std::function<job_record(const job_record& current)>;
    virtual bool finish(const claimed_attempt& attempt, const next_state& next, std::optional<std::string> result,
                        std::function<void()> committed) = 0;
    // The same for an attempt whose plugin has not returned (it ignored its stop request
    // past the grace period). Once this finish is committed the attempt is no longer among
    // the running ones, though its worker is still inside the plugin.
    virtual bool finish_without_plugin(const claimed_attempt& attempt, const next_state& next) = 0;
    // The attempts this node's workers run (claimed, and not yet finished and committed).
    virtual std::vector<claimed_attempt> running() const = 0;
    // Waits until running() is empty or `timeout` passed; true when it is empty.
    virtual bool wait_until_idle(std::chrono::milliseconds timeout) = 0;
    // Drain: the attempt's plugin ignored its stop request; its job is stored as queued
    // for the next start (in memory it stays as it is). False when the attempt no longer
    // holds the job. `stored` runs once the write is durable (or failed).
    virtual bool requeue_for_restart(const claimed_attempt& attempt, std::function<void()> stored) = 0;
    // Where an attempt writes a result too large to keep in the store, and removes one.
    virtual void write_result_file(const std::string& job_id, std::string_view bytes) = 0;
    virtual uint64_t adopt_result_file(const std::string& job_id, const std::filesystem::path& file) = 0;
    virtual void remove_result_file(const std::string& job_id) = 0;

    // Long-polls waiting now (a gauge).
    virtual uint64_t waiters() const = 0;
};

}  // namespace ticketd
