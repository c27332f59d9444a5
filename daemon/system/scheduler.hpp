// "Call me later" (job timeouts, long-poll deadlines, retention, the watchdog), on a
// thread of its own. Every job run arms a timeout and disarms it when the plugin returns:
// with Asio timers each of those was a post to an io thread (a wake-up, a context switch)
// from a worker; here arming a deadline later than the next one is a map insert under a
// mutex, and disarming is an erase. Callbacks run on the timer thread: they must not block.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace ticketd {

class scheduled_call {
   public:
    virtual ~scheduled_call() = default;
    // Prevents the call if it has not started; safe from any thread, idempotent.
    virtual void cancel() = 0;
};

class scheduler {
   public:
    scheduler();
    ~scheduler();
    scheduler(const scheduler&) = delete;
    scheduler& operator=(const scheduler&) = delete;

    // Runs `fn` on the timer thread after `delay`. Keep the handle to cancel it.
    std::shared_ptr<scheduled_call> after(std::chrono::milliseconds delay, std::function<void()> fn);
    // Joins the timer thread; calls not yet run never will. Idempotent.
    void stop();

   private:
    struct call;
    using clock = std::chrono::steady_clock;
    void run();

    std::mutex mutex_;
    std::condition_variable cv_;
    std::multimap<clock::time_point, std::shared_ptr<call>> due_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace ticketd
