#include "system/task_pool.hpp"

#include "system/thread_origin.hpp"
#include "system/threads.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>

namespace ticketd {

namespace {
// A thread that finds nothing to do gives its core away this many times before it sleeps,
// as a job queue's workers do (jobs/job_queue.cpp): tasks come in bursts, and the next is
// often posted meanwhile, taken without a futex sleep and wake-up (two context switches).
constexpr int yields_before_sleeping = 3;
}  // namespace

struct task_pool::state {
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<std::pair<void*, std::function<void()>>> tasks;  // (the poster's origin, the task)
    std::atomic<uint64_t> posted{0};  // watched by the yields without the mutex
    bool stopping = false;

    void loop() {
        for (;;) {
            std::pair<void*, std::function<void()>> task;
            {
                std::unique_lock lock(mutex);
                if (tasks.empty() && !stopping) {
                    const uint64_t seen = posted.load(std::memory_order_relaxed);
                    lock.unlock();
                    for (int i = 0; i < yields_before_sleeping && posted.load(std::memory_order_relaxed) == seen; ++i) {
                        std::this_thread::yield();
                    }
                    lock.lock();
                }
                cv.wait(lock, [this] { return stopping || !tasks.empty(); });
                if (tasks.empty()) return;  // stopping, and everything posted has run
                task = std::move(tasks.front());
                tasks.pop_front();
            }
            this_thread_origin = task.first;
            task.second();
            this_thread_origin = nullptr;
        }
    }
};

task_pool::task_pool(unsigned threads, const std::string& name) : state_(std::make_shared<state>()) {
    try {
        for (unsigned i = 0; i < threads; ++i) {
            threads_.emplace_back([s = state_, name] {
                name_this_thread(name);
                run_or_fail_stop(name.c_str(), [&s] { s->loop(); });
            });
        }
    } catch (...) {
        stop();  // the threads already started, before the exception leaves them joinable
        throw;
    }
}

task_pool::~task_pool() { stop(); }

void task_pool::post(std::function<void()> task) {
    const auto s = state_;  // the task may end the pool before this returns
    {
        std::unique_lock lock(s->mutex);
        if (!s->stopping && !threads_.empty()) {
            s->tasks.emplace_back(this_thread_origin, std::move(task));
            s->posted.fetch_add(1, std::memory_order_relaxed);
            lock.unlock();
            s->cv.notify_one();  // after the unlock: the thread it wakes does not find the mutex held
            return;
        }
    }
    task();
}

void task_pool::stop() {
    {
        std::lock_guard lock(state_->mutex);
        if (state_->stopping) return;
        state_->stopping = true;
    }
    state_->cv.notify_all();
    for (auto& t : threads_) {
        if (t.get_id() == std::this_thread::get_id()) t.detach();
        else t.join();
    }
}

}  // namespace ticketd
