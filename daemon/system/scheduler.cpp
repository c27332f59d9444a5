#include "system/scheduler.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>

namespace ticketd {

namespace {
namespace net = boost::asio;

class timer_call final : public scheduled_call, public std::enable_shared_from_this<timer_call> {
   public:
    timer_call(net::io_context& io, std::function<void()> fn)
        : strand_(net::make_strand(io)), timer_(strand_), fn_(std::move(fn)) {}

    void start(std::chrono::milliseconds delay) {
        net::dispatch(strand_, [self = shared_from_this(), delay] {
            self->timer_.expires_after(delay);
            self->timer_.async_wait([self](const boost::system::error_code& ec) {
                if (ec || self->canceled_.exchange(true)) return;
                auto fn = std::move(self->fn_);
                fn();
            });
        });
    }

    void cancel() override {
        if (canceled_.exchange(true)) return;
        net::post(strand_, [self = shared_from_this()] {
            self->timer_.cancel();
            self->fn_ = nullptr;
        });
    }

   private:
    net::strand<net::io_context::executor_type> strand_;
    net::steady_timer timer_;
    std::function<void()> fn_;
    std::atomic<bool> canceled_{false};
};
}  // namespace

std::shared_ptr<scheduled_call> scheduler::after(std::chrono::milliseconds delay,
                                                 std::function<void()> fn) {
    auto call = std::make_shared<timer_call>(io_, std::move(fn));
    call->start(delay);
    return call;
}

void scheduler::post(std::function<void()> fn) { net::post(io_, std::move(fn)); }

}  // namespace ticketd
