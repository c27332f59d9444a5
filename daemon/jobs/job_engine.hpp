// The job engine: accepts jobs (durably, idempotently), runs them on per-type worker
// pools, tracks their state in memory, wakes long-polls, cancels, deletes, purges, and
// recovers after a crash. The HTTP layer talks only to this class.
//
// Threads: calls come from io threads and never block on disk or plugin code; results
// come back through callbacks, which may run on the store's thread or a worker thread
// and must not block. One mutex guards all in-memory job state; store writes are
// enqueued while holding it so that the store applies them in the order they happened.
#pragma once

#include "config/config.hpp"
#include "jobs/attempt_marks.hpp"
#include "jobs/idempotency_index.hpp"
#include "jobs/job_entry.hpp"
#include "jobs/job_queue.hpp"
#include "jobs/job_service.hpp"
#include "jobs/sharded_map.hpp"
#include "jobs/job_events.hpp"
#include "plugins/job_handler.hpp"
#include "store/job_store.hpp"
#include "store/result_files.hpp"
#include "system/scheduler.hpp"
#include "system/task_pool.hpp"
#include "uploads/upload_store.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>
#include <utility>
#include <vector>

namespace ticketd {

struct job_type_runtime {
    explicit job_type_runtime(job_type_config c)
        : type(c.type), config_(std::make_shared<const job_type_config>(std::move(c))) {}

    // Limits and the pool size may change on reload; the plugin and settings never do (a
    // type whose plugin or settings change is replaced by a new runtime).
    std::shared_ptr<const job_type_config> config() const {
        std::lock_guard lock(config_mutex_);
        return config_;
    }
    void set_config(std::shared_ptr<const job_type_config> c) {
        std::lock_guard lock(config_mutex_);
        config_ = std::move(c);
    }

    const std::string type;
    std::unique_ptr<job_handler> handler;
    std::unique_ptr<job_queue> queue;
    // Runs the plugin's validate() off the io threads, one pool per type so that a slow
    // validator holds up only its own type's submits (validate_threads; 0: on the io thread).
    std::unique_ptr<task_pool> validations;
    // Its worker threads, including those that retired after a pool shrank and those
    // abandoned inside a plugin; guarded by workers_mutex (a replacement for an abandoned
    // one is started from the timer thread).
    std::vector<std::thread> workers;
    std::mutex workers_mutex;
    std::vector<std::thread> take_workers() {
        std::lock_guard lock(workers_mutex);
        return std::exchange(workers, {});
    }
    std::atomic<unsigned> busy{0};
    job_type_events* events = nullptr;  // what happens to it is reported here (metrics/)
    bool removed = false;                 // guarded by the engine's mutex: a reload took it out

   private:
    mutable std::mutex config_mutex_;
    std::shared_ptr<const job_type_config> config_;
};

using job_type_ptr = std::shared_ptr<job_type_runtime>;
// Creates (loads the plugin of) a job type; throws with a message naming the file.
using job_type_factory = std::function<job_type_ptr(const job_type_config&)>;

class job_engine final : public job_service {
   public:
    job_engine(const daemon_config& config, job_store& store, upload_store& uploads, scheduler& timers,
               std::vector<job_type_ptr> types);
    ~job_engine();
    job_engine(const job_engine&) = delete;
    job_engine& operator=(const job_engine&) = delete;

    // Startup (blocking): re-queue stored jobs, apply the crash rules to interrupted ones.
    void recover();
    // Starts the worker pools and the retention timer; from now on submits are accepted.
    void start();
    // SIGTERM: stop accepting, let running jobs finish for drain_timeout, then cancel and
    // requeue them without using an attempt. Returns true when every worker has stopped.
    bool drain();

    bool accepting() const override { return accepting_.load(); }
    std::string store_trouble() const override { return store_.trouble(); }

    void submit(submit_request request, std::function<void(submit_outcome)> done) override;
    void get(const std::string& id, const std::string& principal, std::function<void(lookup_outcome)> done) override;
    std::optional<uint64_t> watch(const std::string& id, const std::string& principal, const std::string& etag,
                                  std::chrono::milliseconds wait, std::function<void(lookup_outcome)> done) override;
    void unwatch(const std::string& id, uint64_t waiter_id) override;
    void cancel(const std::string& id, const std::string& principal, std::function<void(cancel_outcome)> done) override;
    void remove(const std::string& id, const std::string& principal, std::function<void(remove_status)> done) override;
    void list(const job_query& query, std::function<void(std::vector<job_record>)> done) override;
    std::vector<job_type_info> types() const override;

    // SIGHUP: makes `next` the set of job types. Limits, retention and pool sizes change in
    // place; new types are created with `create` and started; a type that is gone, or whose
    // plugin or settings changed, is stopped (and replaced), which is allowed only while it
    // has no unfinished jobs. All or nothing: throws std::runtime_error saying why, and
    // then nothing has changed. Returns a one-line summary of what changed.
    std::string reload(const std::vector<job_type_config>& next, const job_type_factory& create);
    std::filesystem::path result_path(const std::string& job_id) const override { return results_.path_of(job_id); }
    // Answers on the store's reader thread, or at once on the caller's (job_store::read_result).
    void read_result(const std::string& job_id, std::function<void(std::optional<std::string>)> done) override {
        store_.read_result(job_id, std::move(done));
    }
    // Results up to this size are committed with the job's state instead of a file.
    static constexpr size_t inline_result_limit = 64 * 1024;
    uint64_t waiters() const { return waiters_.load(); }

   private:
    job_type_ptr find_type(const std::string& type) const;
    std::vector<job_type_ptr> types_snapshot() const;
    void start_workers(const job_type_ptr& rt, unsigned count);
    void worker_loop(job_type_runtime& rt, attempt_marks::slot* mark);  // mark may be null
    // `mark` null: the plugin waits for the `running` write instead (see attempt_marks.hpp).
    // Runs one attempt; true when its worker was abandoned meanwhile (and so must leave).
    bool run_attempt(job_type_runtime& rt, const job_entry_ptr& e, attempt_marks::slot* mark);
    void finish_attempt(job_type_runtime& rt, const job_entry_ptr& e, job_context& ctx,
                        ticketd_run_status status);
    void force_finish(const job_entry_ptr& e, const std::shared_ptr<run_control>& control);
    void on_progress(const job_entry_ptr& e, const std::shared_ptr<run_control>& control,
                     double percent, std::string message);

    // Under mutex_: commit `next` as the job's new (terminal or requeued) state, then
    // make it visible and wake waiters.
    void finalize_locked(const job_entry_ptr& e, job_record next, std::optional<std::string> result = std::nullopt);
    void count_outcome(const job_record& r) const;
    std::vector<std::function<void()>> collect_waiters_locked(job_entry& e);
    void remember_terminal_locked(const job_entry_ptr& e);
    job_record terminal_record(const job_record& from, job_status status,
                               std::optional<job_error> error) const;
    int64_t retention_ms(const std::string& type) const;
    void schedule_purge();
    void purge();
    // The rest of submit() once the cheap checks passed, on a validation thread: the
    // plugin's validate(), the key, the queue reservation, the insert.
    void validate_and_accept(const job_type_ptr& rt, submit_request req,
                             const std::function<void(submit_outcome)>& done);
    // A submit whose key is bound already: replay, 422 or 409 (on a store thread).
    void answer_bound_key(bool same_request, bool job_deleted, std::optional<std::string> bound,
                          const std::function<void(submit_outcome)>& done);
    void accept_committed(job_type_runtime& rt, job_record record, std::optional<idempotency_binding> key,
                          const idempotency_index::digest& key_digest, bool ok,
                          const std::string& error, const std::function<void(submit_outcome)>& done);

    const daemon_config& config_;
    job_store& store_;
    upload_store& uploads_;
    scheduler& timers_;
    result_files results_;
    attempt_marks marks_;
    mutable std::shared_mutex types_mutex_;  // guards the vector; runtimes guard themselves
    std::vector<job_type_ptr> types_;
    std::mutex reload_mutex_;              // one reload at a time

    mutable std::mutex mutex_;
    std::condition_variable idle_cv_;
    // No pointer into it is kept across an insert, which may move entries.
    sharded_map<job_key, job_entry_ptr, job_key_hash, job_key_shard> jobs_;
    // The job with the id `id` (null if there is none, or `id` is malformed).
    job_entry_ptr* find_job_locked(std::string_view id) {
        const auto key = job_key_of(id);
        return key ? jobs_.find(*key) : nullptr;
    }
    void erase_job_locked(std::string_view id) {
        if (const auto key = job_key_of(id)) jobs_.erase(*key);
    }
    std::set<job_entry_ptr> running_;
    idempotency_index keys_;
    std::deque<job_entry_ptr> terminal_order_;  // the cached finished jobs, oldest first
    uint64_t next_waiter_id_ = 0;
    bool draining_ = false;

    std::atomic<bool> accepting_{false};
    std::atomic<uint64_t> waiters_{0};
    std::shared_ptr<scheduled_call> purge_timer_;
};

}  // namespace ticketd
