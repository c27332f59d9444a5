// The timer thread: calls run once, in the order they are due; a cancelled call never
// runs; stop() drops what is pending; a call may schedule another.
#include "system/scheduler.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>

using namespace ticketd;
using namespace std::chrono_literals;

namespace {
// Records calls; wait_for_size waits (with a deadline) until `n` have been recorded.
struct recorder {
    std::mutex mutex;
    std::condition_variable cv;
    std::string calls;

    std::function<void()> add(char c) {
        return [this, c] {
            std::lock_guard lock(mutex);
            calls += c;
            cv.notify_all();
        };
    }
    std::string wait_for_size(size_t n) {
        std::unique_lock lock(mutex);
        cv.wait_for(lock, 10s, [&] { return calls.size() >= n; });
        return calls;
    }
};
}  // namespace

TEST(scheduler, calls_run_in_due_order_and_cancelled_ones_never) {
    scheduler timers;
    recorder r;
    // Far enough off that x is surely cancelled before it is due, on a slow machine too.
    auto c = timers.after(600ms, r.add('c'));
    auto a = timers.after(0ms, r.add('a'));
    auto x = timers.after(300ms, r.add('x'));
    auto b = timers.after(300ms, r.add('b'));
    x->cancel();
    x->cancel();  // idempotent
    EXPECT_EQ(r.wait_for_size(3), "abc");
    a->cancel();  // after it ran: nothing happens
    auto d = timers.after(0ms, r.add('d'));
    EXPECT_EQ(r.wait_for_size(4), "abcd");
}

TEST(scheduler, a_call_can_schedule_the_next_and_stop_drops_what_is_pending) {
    recorder r;
    auto timers = std::make_unique<scheduler>();
    auto add_b = r.add('b');
    auto first = timers->after(0ms, [&] {
        r.add('a')();
        timers->after(0ms, add_b);
    });
    EXPECT_EQ(r.wait_for_size(2), "ab");
    auto never = timers->after(1h, r.add('n'));
    timers->stop();
    never->cancel();  // after stop: safe, nothing happens
    auto late = timers->after(0ms, r.add('l'));  // after stop: never runs
    timers.reset();
    EXPECT_EQ(r.calls, "ab");
}

// The thread waits for the earliest call; cancelling exactly that one (and the ones after)
// while it waits must leave it waiting on nothing freed (ASan caught a read of the
// cancelled entry's time in wait_until).
TEST(scheduler, cancelling_the_call_being_waited_for) {
    scheduler timers;
    recorder r;
    for (int i = 0; i < 200; ++i) {
        auto far = timers.after(1h, r.add('x'));
        far->cancel();
    }
    auto soon = timers.after(1ms, r.add('s'));
    EXPECT_EQ(r.wait_for_size(1), "s");
}
