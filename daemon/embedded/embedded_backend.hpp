// The embedded backend: one process's jobs, in memory over the journal + SQLite store
// (store/). Unfinished and recently finished jobs are in a table in memory, each type's
// queue is a priority queue in memory, every live idempotency key is in an index in
// memory; the store makes each change durable before anyone hears of it, and after a
// crash recover() rebuilds the memory from it by the crash rules.
//
// One mutex guards the table, the keys and each job's waiters. Store writes are queued
// while it is held, so that the store applies them in the order they happened; disk I/O
// and callbacks never happen under it.
//
// The class's parts are in files of their own: embedded_backend.cpp (queues, reads and
// long-polls, purging), accept.cpp, cancel_remove.cpp, rerun.cpp, attempts.cpp (claims and finishes),
// recovery.cpp (the crash rules at startup).
#pragma once

#include "embedded/attempt_marks.hpp"
#include "embedded/idempotency_index.hpp"
#include "embedded/job_queue.hpp"
#include "embedded/job_table.hpp"
#include "embedded/paused_types.hpp"
#include "jobs/job_backend.hpp"
#include "store/job_store.hpp"
#include "store/result_files.hpp"
#include "system/scheduler.hpp"
#include "uploads/upload_store.hpp"

#include <atomic>
#include <condition_variable>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>
#include <string>
#include <vector>

namespace ticketd {

class embedded_backend final : public job_backend {
   public:
    struct settings {
        std::filesystem::path state_dir;  // results/ and attempts/ live there
        unsigned max_waiters = 5'000;
        std::chrono::milliseconds idempotency_ttl{24LL * 3600'000};
        std::chrono::milliseconds tombstone_ttl{24LL * 3600'000};
        std::chrono::milliseconds purge_interval{60'000};
        uint64_t max_cached_jobs = 100'000;
    };
    // `now` is the clock jobs are stamped with (tests may give their own).
    embedded_backend(settings s, job_store& store, upload_store& uploads, scheduler& timers,
                     std::function<unix_ms()> now = now_unix_ms);
    ~embedded_backend() override;
    embedded_backend(const embedded_backend&) = delete;
    embedded_backend& operator=(const embedded_backend&) = delete;

    void attach(job_backend_host& host) override { host_ = &host; }
    std::shared_ptr<work_queue> make_queue(const std::string& type, uint64_t capacity,
                                           job_type_events& events) override;
    void set_queues(const std::vector<work_queue*>& queues, const std::vector<retiring_queue>& retiring) override;
    void recover() override;
    void start() override;
    void stop_accepting() override;
    std::string trouble() const override { return store_.trouble(); }
    void set_paused(const std::string& type, bool paused, std::function<void(bool ok)> done) override;

    void accept(std::shared_ptr<work_queue> queue, submit_request request,
                std::function<void(submit_outcome)> done) override;
    void get(const std::string& id, const caller& who, std::function<void(lookup_outcome)> done) override;
    std::optional<uint64_t> watch(const std::string& id, const caller& who, const std::string& etag,
                                  std::chrono::milliseconds wait, std::function<void(lookup_outcome)> done) override;
    void unwatch(const std::string& id, uint64_t waiter_id) override;
    void cancel(const std::string& id, const caller& who, std::function<void(cancel_outcome)> done) override;
    void remove(const std::string& id, const caller& who, std::function<void(remove_status)> done) override;
    void rerun(const std::string& id, const caller& who, uint64_t max_live_jobs,
               std::function<void(rerun_outcome)> done) override;
    void list(const job_query& query, std::function<void(std::vector<job_record>)> done) override;
    std::filesystem::path result_path(const std::string& job_id) const override { return results_.path_of(job_id); }
    // Answers on the store's reader thread, or at once on the caller's (job_store::read_result).
    void read_result(const std::string& job_id, std::function<void(std::optional<std::string>)> done) override {
        store_.read_result(job_id, std::move(done));
    }

    std::unique_ptr<worker_seat> open_seat(const std::string& type) override;
    std::optional<claimed_attempt> claim(work_queue& queue, worker_seat& seat) override;
    void progress(const claimed_attempt& attempt, double percent, std::string message) override;
    bool finish(const claimed_attempt& attempt, const next_state& next, std::optional<std::string> result,
                std::function<void()> committed) override;
    bool finish_without_plugin(const claimed_attempt& attempt, const next_state& next) override;
    std::vector<claimed_attempt> running() const override;
    bool wait_until_idle(std::chrono::milliseconds timeout) override;
    bool requeue_for_restart(const claimed_attempt& attempt, std::function<void()> stored) override;
    void write_result_file(const std::string& job_id, std::string_view bytes) override {
        results_.write(job_id, bytes);
    }
    uint64_t adopt_result_file(const std::string& job_id, const std::filesystem::path& file) override {
        return results_.adopt(job_id, file);
    }
    void remove_result_file(const std::string& job_id) override { results_.remove(job_id); }
    uint64_t waiters() const override { return waiters_.load(); }

    // How principals share each type's workers, from now on (at start and each reload).
    void set_weights(std::shared_ptr<const principal_weights> weights) { weights_.store(std::move(weights)); }
    // A principal's queued and running jobs (what quotas.max_live_jobs bounds).
    uint64_t live_jobs(const std::string& principal) const;

   private:
    using wake_list = std::vector<std::function<void()>>;

    static claimed_attempt attempt_of(const job_entry_ptr& e);

    // Under mutex_: the configured queue of a type (null: none on this node).
    job_queue* queue_of_locked(const std::string& type) const;
    int64_t retention_ms(const std::string& type) const;
    job_record terminal(const job_record& from, job_status status, std::optional<job_error> error) const;
    // Under mutex_: the waiters `e`'s change satisfies, to wake once the lock is let go.
    wake_list collect_waiters_locked(job_entry& e);
    // Under mutex_: commit `next` as the job's new (terminal or requeued) state, then make
    // it visible and wake waiters; `committed` runs after that (or after a failed write).
    void finalize_locked(const job_entry_ptr& e, job_record next, std::optional<std::string> result,
                         std::function<void()> committed);
    // Under mutex_: the job's terminal state is final: counted, its uploads let go, cached.
    void finished_locked(const job_entry_ptr& e);
    void count_outcome_locked(const job_record& r) const;
    // A submit whose key is bound already: replay, 422 or 409 (on a store thread).
    void answer_bound_key(bool same_request, bool job_deleted, std::optional<std::string> bound,
                          const std::function<void(submit_outcome)>& done);
    // Under mutex_: the re-run of `current` (the job as memory and the store have it; its
    // input from the store): checked, then made durable.
    void rerun_locked(std::unique_lock<std::mutex>& lock, job_entry_ptr e, job_record current, uint64_t max_live_jobs,
                      const std::function<void(rerun_outcome)>& done);
    void accept_committed(const std::shared_ptr<job_queue>& queue, job_record record, std::optional<idempotency_binding> key,
                          const idempotency_index::digest& key_digest, bool ok, const std::string& error,
                          const std::function<void(submit_outcome)>& done);
    void schedule_purge();
    void purge();
    // Under mutex_: a job into its type's queue: queued (or waiting for a retry), or,
    // scheduled, into the queue's scheduled set with the promotion timer armed for it.
    void enqueue_locked(const job_entry_ptr& e, job_queue& q);
    void schedule_locked(const job_entry_ptr& e, job_queue& q);
    // Scheduled jobs that are due become queued (stored), on the timer thread; the timer
    // is armed for the earliest due time of every queue.
    void arm_promotion_locked(unix_ms due);
    void promote_due();

    const settings settings_;
    job_store& store_;
    upload_store& uploads_;
    scheduler& timers_;
    const std::function<unix_ms()> now_;
    result_files results_;
    attempt_marks marks_;
    paused_types paused_;  // <state_dir>/paused-types
    job_backend_host* host_ = nullptr;

    mutable std::mutex mutex_;
    job_table table_;
    idempotency_index keys_;
    std::map<std::string, job_queue*> queues_;  // the types this node serves, by name
    std::set<job_entry_ptr> running_;  // claimed attempts, until their finish is committed
    std::condition_variable idle_cv_;  // running_ became empty
    uint64_t next_waiter_id_ = 0;
    bool accepting_ = true;  // false once stop_accepting() ran: no accept, no claim, no purge
    std::shared_ptr<scheduled_call> purge_timer_;
    std::shared_ptr<scheduled_call> promote_timer_;
    unix_ms promote_at_ = 0;  // when promote_timer_ fires
    std::atomic<uint64_t> waiters_{0};
    job_queue::weights_ptr weights_{std::make_shared<const principal_weights>()};
    // Under mutex_: jobs whose deletion is being stored (a re-run that read one before
    // must not bring it back).
    std::set<std::string> removing_;
    // Under mutex_: queued and running jobs by principal, accepts being committed included.
    std::unordered_map<std::string, uint64_t> live_;
    void count_live_locked(job_entry& e);
    void uncount_live_locked(job_entry& e);  // once per entry (counted_live)
    void release_live_locked(const std::string& principal);
    void forget_removing(const std::string& id);  // its deletion is stored (or failed)
};

}  // namespace ticketd
