// One job type's bounded queue, shared fairly among principals: each principal with
// ready jobs has a lane, ordered by priority (higher first), FIFO within a priority; a
// worker takes the next job of the lane with the least virtual time (start-time fair
// queuing), which advances by 1/weight per job taken. Two principals of equal weight
// alternate however long either's backlog; a lane that empties keeps no credit (it comes
// back at the current virtual time) but keeps its debt (never before the turn its last
// job paid for), so a principal that submits one job at a time cannot pass a backlog
// forever. One principal alone: its lane is the old FIFO.
// Retries wait in a delayed set until their backoff has passed. Worker threads block in
// pop(), also while the queue is paused; capacity counts queued and delayed jobs plus
// reservations of accepts that are still being committed, so a full queue is refused
// before anything is stored.
#pragma once

#include "embedded/job_entry.hpp"
#include "jobs/job_backend.hpp"
#include "model/principal_weights.hpp"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace ticketd {

class job_queue final : public work_queue {
   public:
    using weights_ptr = std::atomic<std::shared_ptr<const principal_weights>>;
    // `events`: where the backend reports what happens to the type's jobs (none: nowhere).
    // `weights`: the principals' shares, read when a lane opens (none: all equal).
    explicit job_queue(uint64_t capacity, std::string type = {}, job_type_events* events = nullptr,
                       const weights_ptr* weights = nullptr)
        : type_(std::move(type)), events_(events), weights_(weights), capacity_(capacity) {}

    const std::string& type() const override { return type_; }
    job_type_events* events() const { return events_; }
    bool retired() const override { return retired_.load(); }
    bool paused() const override { return paused_.load(); }
    void set_paused(bool paused);
    void set_retired() { retired_ = true; }

    bool try_reserve();
    void release_reservation();
    // Adds a job for which a reservation was taken, without waking a worker: the caller
    // calls wake_one() once it has let go of its own locks (the worker it wakes takes them).
    void push_reserved(job_entry_ptr entry, int32_t priority, unix_ms not_before);
    void wake_one() { cv_.notify_one(); }
    // Adds a job regardless of capacity (recovery after a restart).
    void push(job_entry_ptr entry, int32_t priority, unix_ms not_before);
    // Takes a job out that will not run (canceled or deleted while queued or scheduled).
    bool remove(const job_entry_ptr& entry);
    // Blocks until a job is ready; nullptr once closed.
    job_entry_ptr pop();
    // Wakes every worker; pop() returns nullptr from now on. Queued jobs stay stored.
    void close() override;
    // The next `workers` calls of pop() return nullptr at once (the pool shrinks on reload).
    void retire(unsigned workers) override;
    void set_capacity(uint64_t capacity) override;

    uint64_t size() const override;
    uint64_t waiting_to_retry() const override;

    // Scheduled jobs (status scheduled) wait apart, not counted in the capacity, until the
    // backend queues them when they are due (remove() takes one out too). An accept
    // reserves its place first, within `capacity` (the type's schedule_capacity), as for
    // the queue.
    bool try_reserve_scheduled(uint64_t capacity);
    void release_scheduled_reservation();
    uint64_t scheduled_reserved() const;
    void schedule(job_entry_ptr entry, unix_ms due);
    void schedule_reserved(job_entry_ptr entry, unix_ms due);
    // Takes out the scheduled jobs due by `now`, earliest first, at most `limit`.
    std::vector<job_entry_ptr> take_due(unix_ms now, size_t limit);
    unix_ms next_due() const;  // 0: nothing scheduled
    uint64_t scheduled() const override;
    // created_at of the oldest queued job (0 when empty), for the oldest-age metric.
    unix_ms oldest_created_at() const override;
    uint64_t capacity() const override;
    // Accepts being committed (reserved, not yet pushed).
    uint64_t reserved() const;

   private:
    using ready_key = std::pair<int64_t, uint64_t>;    // (-priority, seq)
    using delayed_key = std::pair<unix_ms, uint64_t>;  // (not_before, seq)
    using turn_key = std::pair<uint64_t, uint64_t>;    // (virtual time, lane opened at)
    struct lane {
        std::map<ready_key, job_entry_ptr> ready;
        turn_key turn;  // its place in turns_
    };
    void insert_locked(job_entry_ptr entry, int32_t priority, unix_ms not_before);
    void make_ready_locked(job_entry_ptr entry, ready_key key);
    void schedule_locked(job_entry_ptr entry, unix_ms due);
    job_entry_ptr take_next_locked();
    uint64_t cost_of(const std::string& principal) const;  // unit / its weight, as configured now
    void forget_created(unix_ms created_at);

    const std::string type_;
    job_type_events* const events_;
    const weights_ptr* const weights_;
    std::atomic<bool> retired_{false};
    std::atomic<bool> paused_{false};  // written under mutex_ (pop() waits on it)
    uint64_t capacity_;
    unsigned retiring_ = 0;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    uint64_t seq_ = 0;
    uint64_t reserved_ = 0;
    uint64_t scheduled_reserved_ = 0;
    bool closed_ = false;
    std::atomic<uint64_t> inserted_{0};  // jobs ever inserted: what a yielding worker watches
    std::unordered_map<std::string, lane> lanes_;  // principals with ready jobs
    std::map<turn_key, lane*> turns_;              // the lanes in the order they are served
    // Where emptied lanes had got to (the turn their last job paid for), while ahead of
    // virtual_now_: a lane reopens at the later of the two.
    std::unordered_map<std::string, uint64_t> paid_until_;
    uint64_t virtual_now_ = 0;                     // the turn of the lane served last
    uint64_t lanes_opened_ = 0;
    uint64_t ready_count_ = 0;
    std::map<delayed_key, std::pair<int32_t, job_entry_ptr>> delayed_;
    std::map<delayed_key, job_entry_ptr> scheduled_;
    // How many queued jobs were created in each millisecond: jobs arrive in bursts, so a
    // backlog of a million needs a few thousand nodes (a node per job: ~48 bytes each).
    std::map<unix_ms, uint32_t> created_;
};

}  // namespace ticketd
