// Timers and deferred work on the io_context, without exposing Asio to the many files
// that only need "call me later" (job timeouts, long-poll deadlines, retention).
#pragma once

#include <chrono>
#include <functional>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace ticketd {

class scheduled_call {
   public:
    virtual ~scheduled_call() = default;
    // Prevents the call if it has not started; safe from any thread, idempotent.
    virtual void cancel() = 0;
};

class scheduler {
   public:
    explicit scheduler(boost::asio::io_context& io) : io_(io) {}
    // Runs `fn` on an io thread after `delay`. Keep the handle to cancel it.
    std::shared_ptr<scheduled_call> after(std::chrono::milliseconds delay, std::function<void()> fn);
    // Runs `fn` on an io thread soon.
    void post(std::function<void()> fn);

   private:
    boost::asio::io_context& io_;
};

}  // namespace ticketd
