#include "system/scheduler.hpp"

#include "system/log.hpp"
#include "system/threads.hpp"

namespace ticketd {

struct scheduler::call final : scheduled_call {
    scheduler* owner = nullptr;
    std::function<void()> fn;                                   // guarded by owner->mutex_
    std::multimap<clock::time_point, std::shared_ptr<call>>::iterator at;  // valid while pending
    bool pending = false;

    void cancel() override {
        std::function<void()> dropped;  // destroyed outside the lock (its captures may cancel too)
        {
            std::lock_guard lock(owner->mutex_);
            if (!pending) return;
            pending = false;
            dropped = std::move(fn);
            owner->due_.erase(at);  // the map held one reference; the caller holds another
        }
    }
};

scheduler::scheduler() {
    thread_ = std::thread([this] {
        name_this_thread("td-timers");
        run();
    });
}

scheduler::~scheduler() { stop(); }

void scheduler::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::multimap<clock::time_point, std::shared_ptr<call>> dropped;
    {
        std::lock_guard lock(mutex_);
        for (auto& [when, c] : due_) c->pending = false;
        dropped.swap(due_);
    }
}

std::shared_ptr<scheduled_call> scheduler::after(std::chrono::milliseconds delay, std::function<void()> fn) {
    auto c = std::make_shared<call>();
    c->owner = this;
    std::lock_guard lock(mutex_);
    if (stopping_) return c;  // never runs; cancel() is a no-op
    c->fn = std::move(fn);
    c->pending = true;
    c->at = due_.emplace(clock::now() + delay, c);
    if (c->at == due_.begin()) cv_.notify_one();  // earlier than what the thread waits for
    return c;
}

void scheduler::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (due_.empty()) {
            cv_.wait(lock);
            continue;
        }
        const auto first = due_.begin();
        if (const clock::time_point when = first->first; when > clock::now()) {
            cv_.wait_until(lock, when);  // a copy: the entry may be cancelled while waiting
            continue;
        }
        std::shared_ptr<call> c = std::move(first->second);
        due_.erase(first);
        c->pending = false;
        std::function<void()> fn = std::move(c->fn);
        lock.unlock();
        try {
            fn();
        } catch (const std::exception& e) {  // one timer's bug is contained: the others run on
            log_error(std::string("timers: a timer failed with an exception: ") + e.what());
        } catch (...) {
            log_error("timers: a timer failed with an exception");
        }
        fn = nullptr;  // its captures go before the lock is taken again
        lock.lock();
    }
}

}  // namespace ticketd
