// The per-type queue: priority first, FIFO within a priority, capacity, delayed retries.
#include "jobs/job_queue.hpp"

#include <gtest/gtest.h>

#include <thread>

using namespace ticketd;

namespace {
job_entry_ptr entry(const std::string& id) {
    auto e = std::make_shared<job_entry>();
    e->record.id = id;
    return e;
}
}  // namespace

TEST(job_queue, priority_then_fifo) {
    job_queue q(10);
    q.push(entry("a"), 0, 0);
    q.push(entry("b"), 5, 0);
    q.push(entry("c"), 0, 0);
    q.push(entry("d"), 5, 0);
    std::string order;
    for (int i = 0; i < 4; ++i) order += q.pop()->record.id;
    EXPECT_EQ(order, "bdac");
}

TEST(job_queue, capacity_counts_reservations_and_removal_frees_a_slot) {
    job_queue q(2);
    EXPECT_TRUE(q.try_reserve());
    EXPECT_TRUE(q.try_reserve());
    EXPECT_FALSE(q.try_reserve());
    const auto a = entry("a");
    q.push_reserved(a, 0, 0);
    q.release_reservation();
    EXPECT_TRUE(q.try_reserve());
    q.push_reserved(entry("b"), 0, 0);
    EXPECT_EQ(q.size(), 2u);
    EXPECT_TRUE(q.remove(a));
    EXPECT_FALSE(q.remove(a));
    EXPECT_TRUE(q.try_reserve());
    EXPECT_EQ(q.pop()->record.id, "b");
}

TEST(job_queue, a_delayed_job_can_be_removed_and_a_popped_one_cannot) {
    job_queue q(10);
    const auto later = entry("later");
    const auto now = entry("now");
    q.push(later, 0, now_unix_ms() + 60'000);
    q.push(now, 0, 0);
    EXPECT_TRUE(q.remove(later));
    EXPECT_EQ(q.size(), 1u);
    EXPECT_EQ(q.pop(), now);
    EXPECT_FALSE(q.remove(now));
    EXPECT_EQ(q.size(), 0u);
    EXPECT_EQ(q.oldest_created_at(), 0);
}

TEST(job_queue, delayed_jobs_wait_for_their_time) {
    job_queue q(10);
    q.push(entry("later"), 100, now_unix_ms() + 150);
    q.push(entry("now"), 0, 0);
    EXPECT_EQ(q.pop()->record.id, "now");
    EXPECT_EQ(q.pop()->record.id, "later");  // blocks until due
}

TEST(job_queue, close_wakes_waiting_workers) {
    job_queue q(10);
    std::thread worker([&] { EXPECT_EQ(q.pop(), nullptr); });
    q.close();
    worker.join();
}
