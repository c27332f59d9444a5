// The per-type queue: priority first, FIFO within a priority, capacity, delayed retries,
// and fairness among principals (lanes, weights).
#include "embedded/job_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

using namespace ticketd;

namespace {
job_entry_ptr entry(const std::string& id, const std::string& principal = "anonymous") {
    auto e = std::make_shared<job_entry>();
    e->record.id = id;
    e->record.principal = principal;
    return e;
}

std::string drain(job_queue& q, size_t n) {
    std::string order;
    for (size_t i = 0; i < n; ++i) order += q.pop()->record.id;
    return order;
}
}  // namespace

TEST(job_queue, principals_take_turns_however_long_one_backlog_is) {
    job_queue q(100);
    for (int i = 0; i < 10; ++i) q.push(entry("a", "alice"), 0, 0);
    q.push(entry("B", "bob"), 0, 0);
    q.push(entry("B", "bob"), 0, 0);
    EXPECT_EQ(drain(q, 6), "aBaBaa") << "bob's first job is next, not after alice's ten";
    // A principal that comes back after its lane emptied gets no credit for the wait.
    q.push(entry("B", "bob"), 0, 0);
    EXPECT_EQ(drain(q, 3), "Baa");
    // Priority orders one principal's own jobs, never another's.
    q.push(entry("h", "alice"), 9, 0);
    q.push(entry("B", "bob"), -5, 0);
    EXPECT_EQ(drain(q, 4), "Bhaa") << "bob's turn came first; alice's urgent job leads her lane";
    EXPECT_EQ(q.size(), 2u);
}

TEST(job_queue, one_job_at_a_time_does_not_pass_a_backlog_forever) {
    // Bob always has exactly one job ready (he submits the next when it is taken): his
    // lane empties after each, but keeps its debt, so alice's backlog still gets its half.
    job_queue q(100);
    for (int i = 0; i < 50; ++i) q.push(entry("a", "alice"), 0, 0);
    q.push(entry("B", "bob"), 0, 0);
    std::string order;
    for (int i = 0; i < 20; ++i) {
        const auto next = q.pop();
        order += next->record.id;
        if (next->record.principal == "bob") q.push(entry("B", "bob"), 0, 0);
    }
    EXPECT_EQ(std::count(order.begin(), order.end(), 'a'), 10) << order;
}

TEST(job_queue, weights_share_the_workers_in_proportion) {
    const auto shares = std::make_shared<const principal_weights>(principal_weights{1, {{"big", 3}}});
    const job_queue::weights_ptr weights{shares};
    job_queue q(100, "t", nullptr, &weights);
    for (int i = 0; i < 20; ++i) {
        q.push(entry("b", "big"), 0, 0);
        q.push(entry("s", "small"), 0, 0);
    }
    const std::string first = drain(q, 16);
    EXPECT_EQ(std::count(first.begin(), first.end(), 'b'), 12) << first;
    EXPECT_EQ(std::count(first.begin(), first.end(), 's'), 4) << first;
}

TEST(job_queue, removing_a_principal_s_last_job_closes_its_lane) {
    job_queue q(100);
    const auto only = entry("x", "carol");
    q.push(entry("a", "alice"), 0, 0);
    q.push(only, 0, 0);
    q.push(entry("a", "alice"), 0, 0);
    EXPECT_TRUE(q.remove(only));
    EXPECT_EQ(q.size(), 2u);
    EXPECT_EQ(drain(q, 2), "aa");
    q.push(entry("x", "carol"), 0, 0);  // opens again
    EXPECT_EQ(drain(q, 1), "x");
}

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

TEST(job_queue, scheduled_places_are_reserved_before_the_commit_apart_from_the_queue) {
    job_queue q(1);
    EXPECT_TRUE(q.try_reserve_scheduled(2));
    EXPECT_TRUE(q.try_reserve_scheduled(2));
    EXPECT_FALSE(q.try_reserve_scheduled(2)) << "two accepts in flight hold both places";
    EXPECT_TRUE(q.try_reserve()) << "the queue's own capacity is apart";
    const auto a = entry("a");
    q.schedule_reserved(a, 4'000'000'000'000);
    q.release_scheduled_reservation();  // the other accept failed
    EXPECT_EQ(q.scheduled(), 1u);
    EXPECT_TRUE(q.try_reserve_scheduled(2));
    EXPECT_FALSE(q.try_reserve_scheduled(2));
    EXPECT_TRUE(q.remove(a));
    EXPECT_TRUE(q.try_reserve_scheduled(2)) << "a removed scheduled job frees its place";
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
    q.push(entry("later"), 100, now_unix_ms() + 1000);  // not due yet at the first pop
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

// Workers that find the queue empty yield, then sleep; jobs handed over as the engine does
// (reserve, push without a wake-up, wake one) in bursts reach exactly one worker each,
// whichever state the worker was in.
TEST(job_queue, jobs_handed_over_in_bursts_each_reach_one_worker) {
    constexpr int jobs = 20000;
    job_queue q(jobs);
    std::vector<int> taken(jobs, 0);
    std::atomic<int> stopped{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < 3; ++w) {
        workers.emplace_back([&] {
            while (auto e = q.pop()) ++taken[static_cast<size_t>(std::stoi(e->record.id))];
            ++stopped;
        });
    }
    for (int i = 0; i < jobs; ++i) {
        if (!q.try_reserve()) {
            ADD_FAILURE() << "no room for job " << i;
            break;
        }
        q.push_reserved(entry(std::to_string(i)), 0, 0);
        q.wake_one();
        if (i % 7 == 6) std::this_thread::yield();  // bursts of seven, as a journal group's accepts
    }
    // A job left queued with every worker asleep would be a lost wake-up.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (q.size() > 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    EXPECT_EQ(q.size(), 0u);
    q.close();
    while (stopped < 3 && std::chrono::steady_clock::now() < deadline + std::chrono::seconds(10)) {
        std::this_thread::yield();
    }
    if (stopped < 3) {  // joining would hang the suite: fail now
        ADD_FAILURE() << "a worker went to sleep after close() and never returned";
        std::_Exit(1);
    }
    for (auto& w : workers) w.join();
    EXPECT_EQ(std::count(taken.begin(), taken.end(), 1), jobs);
}
