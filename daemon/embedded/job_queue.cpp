#include "embedded/job_queue.hpp"

#include <algorithm>
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
// A job taken costs its lane unit / weight of virtual time.
constexpr uint64_t unit = 1'000'000;
}  // namespace

bool job_queue::try_reserve() {
    std::lock_guard lock(mutex_);
    if (ready_count_ + delayed_.size() + reserved_ >= capacity_) return false;
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
    ++created_[entry->record.created_at];
    const uint64_t seq = ++seq_;
    auto& pos = entry->queue_position;
    pos.queued = true;
    if (not_before > now_unix_ms()) {
        pos.delayed = true;
        pos.key = {not_before, seq};
        delayed_.emplace(pos.key, std::make_pair(priority, std::move(entry)));
    } else {
        make_ready_locked(std::move(entry), {-static_cast<int64_t>(priority), seq});
    }
    inserted_.fetch_add(1, std::memory_order_relaxed);
}

void job_queue::make_ready_locked(job_entry_ptr entry, ready_key key) {
    auto& pos = entry->queue_position;
    pos.delayed = false;
    pos.key = key;
    auto [it, opened] = lanes_.try_emplace(entry->record.principal);
    lane& l = it->second;
    if (opened) {  // nothing ready until now: its turn is now, or the one it already paid for
        uint64_t start = virtual_now_;
        if (const auto paid = paid_until_.find(it->first); paid != paid_until_.end()) {
            start = std::max(start, paid->second);
            paid_until_.erase(paid);
        }
        l.turn = {start, ++lanes_opened_};
        turns_.emplace(l.turn, &l);
    }
    l.ready.emplace(key, std::move(entry));
    ++ready_count_;
}

job_entry_ptr job_queue::take_next_locked() {
    if (turns_.empty()) return nullptr;
    auto turn = turns_.extract(turns_.begin());
    lane& l = *turn.mapped();
    virtual_now_ = turn.key().first;
    auto node = l.ready.extract(l.ready.begin());
    --ready_count_;
    const std::string& principal = node.mapped()->record.principal;
    l.turn.first += cost_of(principal);  // the weight in force now: a reload reaches busy lanes too
    if (l.ready.empty()) {
        if (l.turn.first > virtual_now_) {
            if (paid_until_.size() >= 1024) {  // those behind virtual_now_ change nothing
                std::erase_if(paid_until_, [&](const auto& kv) { return kv.second <= virtual_now_; });
            }
            paid_until_[principal] = l.turn.first;
        }
        lanes_.erase(principal);
    } else {
        turn.key() = l.turn;
        turns_.insert(std::move(turn));
    }
    return std::move(node.mapped());
}

uint64_t job_queue::cost_of(const std::string& principal) const {
    const unsigned weight = weights_ ? std::max(1u, weights_->load()->of(principal)) : 1u;
    return std::max<uint64_t>(1, unit / weight);
}

bool job_queue::remove(const job_entry_ptr& entry) {
    std::lock_guard lock(mutex_);
    auto& pos = entry->queue_position;
    if (pos.scheduled) {
        pos.scheduled = false;
        return scheduled_.erase(pos.key) > 0;
    }
    if (!pos.queued) return false;
    pos.queued = false;
    if (pos.delayed) {
        delayed_.erase(pos.key);
    } else if (const auto it = lanes_.find(entry->record.principal); it != lanes_.end()) {
        lane& l = it->second;
        ready_count_ -= l.ready.erase(pos.key);
        if (l.ready.empty()) {
            turns_.erase(l.turn);
            lanes_.erase(it);
        }
    }
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
        if (paused_) {
            cv_.wait(lock);
            continue;
        }
        // Move due retries into the ready set.
        const unix_ms now = now_unix_ms();
        while (!delayed_.empty() && delayed_.begin()->first.first <= now) {
            auto node = delayed_.extract(delayed_.begin());
            auto& [priority, entry] = node.mapped();
            make_ready_locked(std::move(entry), {-static_cast<int64_t>(priority), node.key().second});
        }
        if (auto next = take_next_locked()) {
            next->queue_position.queued = false;
            forget_created(next->record.created_at);
            return next;
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

void job_queue::set_paused(bool paused) {
    {
        std::lock_guard lock(mutex_);
        paused_ = paused;
    }
    cv_.notify_all();
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
    if (auto it = created_.find(created_at); it != created_.end() && --it->second == 0) created_.erase(it);
}

unix_ms job_queue::oldest_created_at() const {
    std::lock_guard lock(mutex_);
    return created_.empty() ? 0 : created_.begin()->first;
}

bool job_queue::try_reserve_scheduled(uint64_t capacity) {
    std::lock_guard lock(mutex_);
    if (scheduled_.size() + scheduled_reserved_ >= capacity) return false;
    ++scheduled_reserved_;
    return true;
}

void job_queue::release_scheduled_reservation() {
    std::lock_guard lock(mutex_);
    if (scheduled_reserved_ > 0) --scheduled_reserved_;
}

uint64_t job_queue::scheduled_reserved() const {
    std::lock_guard lock(mutex_);
    return scheduled_reserved_;
}

void job_queue::schedule_reserved(job_entry_ptr entry, unix_ms due) {
    std::lock_guard lock(mutex_);
    if (scheduled_reserved_ > 0) --scheduled_reserved_;
    schedule_locked(std::move(entry), due);
}

void job_queue::schedule(job_entry_ptr entry, unix_ms due) {
    std::lock_guard lock(mutex_);
    schedule_locked(std::move(entry), due);
}

void job_queue::schedule_locked(job_entry_ptr entry, unix_ms due) {
    auto& pos = entry->queue_position;
    pos.scheduled = true;
    pos.key = {due, ++seq_};
    scheduled_.emplace(pos.key, std::move(entry));
}

std::vector<job_entry_ptr> job_queue::take_due(unix_ms now, size_t limit) {
    std::lock_guard lock(mutex_);
    std::vector<job_entry_ptr> due;
    while (!scheduled_.empty() && scheduled_.begin()->first.first <= now && due.size() < limit) {
        auto node = scheduled_.extract(scheduled_.begin());
        node.mapped()->queue_position.scheduled = false;
        due.push_back(std::move(node.mapped()));
    }
    return due;
}

unix_ms job_queue::next_due() const {
    std::lock_guard lock(mutex_);
    return scheduled_.empty() ? 0 : scheduled_.begin()->first.first;
}

uint64_t job_queue::scheduled() const {
    std::lock_guard lock(mutex_);
    return scheduled_.size();
}

uint64_t job_queue::waiting_to_retry() const {
    std::lock_guard lock(mutex_);
    return delayed_.size();
}

uint64_t job_queue::size() const {
    std::lock_guard lock(mutex_);
    return ready_count_ + delayed_.size();
}

}  // namespace ticketd
