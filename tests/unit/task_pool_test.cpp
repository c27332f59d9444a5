// task_pool: every posted task runs once; stop() runs what was posted before it joins;
// later posts run on the caller; a task may destroy the pool that runs it.
#include "system/task_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <thread>

using namespace ticketd;

TEST(task_pool, every_task_runs_once_and_stop_runs_what_was_posted) {
    std::atomic<int> ran{0};
    std::set<std::thread::id> threads;
    std::mutex m;
    {
        task_pool pool(2, "test-pool");
        for (int i = 0; i < 10000; ++i) {
            pool.post([&] {
                ran.fetch_add(1);
                std::lock_guard lock(m);
                threads.insert(std::this_thread::get_id());
            });
        }
        pool.stop();
        EXPECT_EQ(ran.load(), 10000);
        EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);  // none ran on the poster
        pool.post([&] { EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u); ran.fetch_add(1); });
        EXPECT_EQ(ran.load(), 10001);  // after stop: at once, on the caller
    }
}

TEST(task_pool, no_threads_runs_each_task_on_the_caller) {
    task_pool pool(0, "test-pool");
    std::thread::id where;
    pool.post([&] { where = std::this_thread::get_id(); });
    EXPECT_EQ(where, std::this_thread::get_id());
}

// The owner's last reference can go inside one of the pool's own tasks: its thread is
// left to finish instead of joining itself (which would throw and end the process).
TEST(task_pool, a_task_may_destroy_its_own_pool) {
    auto pool = std::make_shared<task_pool>(1, "test-pool");
    std::promise<void> done;
    pool->post([&pool, &done] {
        pool.reset();
        done.set_value();
    });
    ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
    EXPECT_EQ(pool, nullptr);
}
