#include "embedded/job_queue.hpp"

#include <chrono>
#include <thread>

namespace ticketd {

namespace {
// A worker that finds its queue empty gives its core away this many times before it goes
// to sleep. Jobs tend to come in bursts (a journal group's accepts are handed over
// together), so the next one often arrives while the io thread that brings it runs in
// the worker's place: the worker then takes it without a futex sleep and a wake-up (two
// context switches, and a system call on the io thread). Idle, it costs three
// sched_yield calls. Three: fewer or more do no better (docs/performance.md,
// "Measurements behind code choices").
constexpr int yields_before_sleeping = 3;
}  // namespace

bool job_queue::try_reserve() {
    std::lock_guard lock(mutex_);
    if (ready_.size() + delayed_.size() + reserved_ >= capacity_) return false;
    ++reserved_;
    return true;
}

void job_queue::release_reservation() {
    std::lock_guard lock(mutex_);
    if (reserved_ > 0) --reserved_;
}

void job_queue::push_reserved(job_entry_ptr entry, int32_t priority, unix_ms not_before) {
    std::lock_guard lock(mutex_);
    if (reserved_ > 0) --reserved_;
    insert_locked(std::move(entry), priority, not_before);
}

void job_queue::push(job_entry_ptr entry, int32_t priority, unix_ms not_before) {
    {
        std::lock_guard lock(mutex_);
        insert_locked(std::move(entry), priority, not_before);
    }
    cv_.notify_one();  // after the unlock: the worker it wakes does not find the mutex held
}

void job_queue::insert_locked(job_entry_ptr entry, int32_t priority, unix_ms not_before) {
    created_.insert(entry->record.created_at);
    const uint64_t seq = ++seq_;
    auto& pos = entry->queue_position;
    pos.queued = true;
    if (not_before > now_unix_ms()) {
        pos.delayed = true;
        pos.key = {not_before, seq};
        delayed_.emplace(pos.key, std::make_pair(priority, std::move(entry)));
    } else {
        pos.delayed = false;
        pos.key = {-static_cast<int64_t>(priority), seq};
        ready_.emplace(pos.key, std::move(entry));
    }
    inserted_.fetch_add(1, std::memory_order_relaxed);
}

bool job_queue::remove(const job_entry_ptr& entry) {
    std::lock_guard lock(mutex_);
    auto& pos = entry->queue_position;
    if (!pos.queued) return false;
    pos.queued = false;
    if (pos.delayed) delayed_.erase(pos.key);
    else ready_.erase(pos.key);
    forget_created(entry->record.created_at);
    return true;
}

job_entry_ptr job_queue::pop() {
    std::unique_lock lock(mutex_);
    bool yielded = false;
    for (;;) {
        if (closed_) return nullptr;
        if (retiring_ > 0) {
            --retiring_;
            return nullptr;
        }
        // Move due retries into the ready set.
        const unix_ms now = now_unix_ms();
        while (!delayed_.empty() && delayed_.begin()->first.first <= now) {
            auto node = delayed_.extract(delayed_.begin());
            auto& [priority, entry] = node.mapped();
            const ready_key key{-static_cast<int64_t>(priority), node.key().second};
            entry->queue_position.delayed = false;
            entry->queue_position.key = key;
            ready_.emplace(key, std::move(entry));
        }
        if (!ready_.empty()) {
            auto node = ready_.extract(ready_.begin());
            node.mapped()->queue_position.queued = false;
            forget_created(node.mapped()->record.created_at);
            return std::move(node.mapped());
        }
        if (!yielded) {
            yielded = true;
            const uint64_t seen = inserted_.load(std::memory_order_relaxed);
            lock.unlock();  // the yields watch for a push without taking the mutex
            for (int i = 0; i < yields_before_sleeping && inserted_.load(std::memory_order_relaxed) == seen; ++i) {
                std::this_thread::yield();
            }
            lock.lock();
            continue;
        }
        if (delayed_.empty()) {
            cv_.wait(lock);
        } else {
            cv_.wait_for(lock, std::chrono::milliseconds(delayed_.begin()->first.first - now));
        }
    }
}

void job_queue::close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    cv_.notify_all();
}

void job_queue::retire(unsigned workers) {
    std::lock_guard lock(mutex_);
    retiring_ += workers;
    cv_.notify_all();
}

void job_queue::set_capacity(uint64_t capacity) {
    std::lock_guard lock(mutex_);
    capacity_ = capacity;
}

uint64_t job_queue::capacity() const {
    std::lock_guard lock(mutex_);
    return capacity_;
}

uint64_t job_queue::reserved() const {
    std::lock_guard lock(mutex_);
    return reserved_;
}

void job_queue::forget_created(unix_ms created_at) {
    if (auto it = created_.find(created_at); it != created_.end()) created_.erase(it);
}

unix_ms job_queue::oldest_created_at() const {
    std::lock_guard lock(mutex_);
    return created_.empty() ? 0 : *created_.begin();
}

uint64_t job_queue::size() const {
    std::lock_guard lock(mutex_);
    return ready_.size() + delayed_.size();
}

}  // namespace ticketd
