#include "system/task_pool.hpp"

#include "system/threads.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>

namespace ticketd {

struct task_pool::state {
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<std::function<void()>> tasks;
    bool stopping = false;

    void loop() {
        for (;;) {
            std::function<void()> task;
            {
                std::unique_lock lock(mutex);
                cv.wait(lock, [this] { return stopping || !tasks.empty(); });
                if (tasks.empty()) return;  // stopping, and everything posted has run
                task = std::move(tasks.front());
                tasks.pop_front();
            }
            task();
        }
    }
};

task_pool::task_pool(unsigned threads, const std::string& name) : state_(std::make_shared<state>()) {
    for (unsigned i = 0; i < threads; ++i) {
        threads_.emplace_back([s = state_, name] {
            name_this_thread(name);
            run_or_fail_stop(name.c_str(), [&s] { s->loop(); });
        });
    }
}

task_pool::~task_pool() { stop(); }

void task_pool::post(std::function<void()> task) {
    {
        std::lock_guard lock(state_->mutex);
        if (!state_->stopping && !threads_.empty()) {
            state_->tasks.push_back(std::move(task));
            state_->cv.notify_one();
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
