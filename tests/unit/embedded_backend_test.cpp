// The embedded backend (embedded/) against a store in memory and a clock the test sets:
// accepts and idempotency, claims and finishes, cancel in every state, delete, the crash
// rules at recovery, taking a job type out.
#include "embedded/embedded_backend.hpp"
#include "jobs/transitions.hpp"

#include "support/daemon_process.hpp"
#include "support/fake_job_store.hpp"
#include "support/records.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <optional>

using namespace ticketd;
using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {

constexpr unix_ms t0 = 1'800'000'000'000;

// What a call answers through its callback (on the store's thread), waited for.
template <class T, class Call>
T answer_of(Call call) {
    auto answer = std::make_shared<std::promise<T>>();
    auto future = answer->get_future();
    call([answer](T value) { answer->set_value(std::move(value)); });
    if (future.wait_for(5s) != std::future_status::ready) throw std::runtime_error("no answer");
    return future.get();
}

class counting_events final : public job_type_events {
   public:
    void submitted() override { ++submits; }
    void rejected(reject_reason r) override { ++rejects[r]; }
    void started(double) override { ++starts; }
    void ran(double) override {}
    void completed(job_outcome o) override { ++completions[o]; }
    void retried(retry_reason) override { ++retries; }
    void worker_abandoned(double) override {}
    int submits = 0, starts = 0, retries = 0;
    std::map<reject_reason, int> rejects;
    std::map<job_outcome, int> completions;
};

class fake_host final : public job_backend_host {
   public:
    std::optional<job_type_rules> rules(const std::string& type) const override {
        if (type != "report") return std::nullopt;
        retry_policy retry;
        retry.max_attempts = 3;
        retry.initial_ms = 1'000;
        return job_type_rules{60'000, retry};
    }
    void cancel_requested(const claimed_attempt& a) override { canceled.push_back(a); }
    std::vector<claimed_attempt> canceled;
};

struct backend_test : ::testing::Test {
    temp_dir dir{"ticketd-backend"};
    fake_job_store store;
    upload_store uploads{dir.path / "uploads", store, std::chrono::hours(1)};
    scheduler timers;
    std::atomic<unix_ms> clock{t0};
    fake_host host;
    counting_events events;
    std::optional<embedded_backend> backend;
    std::shared_ptr<work_queue> queue;

    void SetUp() override { make_backend(); }
    void TearDown() override {
        timers.stop();
        store.stop();
    }

    void make_backend(uint64_t capacity = 10) {
        queue.reset();
        backend.reset();
        backend.emplace(embedded_backend::settings{dir.path}, store, uploads, timers, [this] { return clock.load(); });
        backend->attach(host);
        queue = backend->make_queue("report", capacity, events);
        backend->set_queues({queue.get()}, {});
    }

    submit_request request(const std::string& key = "", const std::string& fingerprint = "f1") {
        submit_request r;
        r.type = "report";
        r.input = R"({"rows":3})";
        r.principal = "team-a";
        r.idempotency_key = key;
        r.fingerprint = fingerprint;
        return r;
    }
    submit_outcome accept(submit_request r) {
        return answer_of<submit_outcome>([&](auto done) { backend->accept(queue, std::move(r), done); });
    }
    cancel_outcome cancel(const std::string& id, const std::string& principal = "team-a") {
        return answer_of<cancel_outcome>([&](auto done) { backend->cancel(id, caller{principal}, done); });
    }
    remove_status remove(const std::string& id) {
        return answer_of<remove_status>([&](auto done) { backend->remove(id, caller{"team-a"}, done); });
    }
    lookup_outcome get(const std::string& id, const std::string& principal = "team-a") {
        return answer_of<lookup_outcome>([&](auto done) { backend->get(id, caller{principal}, done); });
    }
    claimed_attempt claim() {
        auto seat = backend->open_seat("report");
        auto a = backend->claim(*queue, *seat);
        if (!a) throw std::runtime_error("nothing to claim");
        return std::move(*a);
    }
    // Finishes the attempt as succeeded; true once committed, false when it no longer
    // held the job.
    bool succeed(const claimed_attempt& a) {
        auto committed = std::make_shared<std::promise<void>>();
        if (!backend->finish(
                a, [&](const job_record& r) { return transitions::terminal(r, job_status::succeeded, {}, clock, 60'000); },
                std::string(R"({"ok":true})"), [committed] { committed->set_value(); })) {
            return false;
        }
        if (committed->get_future().wait_for(5s) != std::future_status::ready) throw std::runtime_error("no commit");
        return true;
    }
};

}  // namespace

TEST_F(backend_test, an_accepted_job_is_stored_before_it_is_answered_and_queued) {
    store.hold_writes = true;
    std::promise<submit_outcome> answer;
    auto answered = answer.get_future();
    backend->accept(queue, request(), [&](submit_outcome o) { answer.set_value(std::move(o)); });
    EXPECT_EQ(answered.wait_for(50ms), std::future_status::timeout) << "answered before the job was durable";
    EXPECT_EQ(queue->size(), 0u);
    store.hold_writes = false;
    store.release_held();
    ASSERT_EQ(answered.wait_for(5s), std::future_status::ready);
    const auto out = answered.get();
    EXPECT_EQ(out.status, submit_status::accepted);
    ASSERT_TRUE(out.job);
    EXPECT_EQ(out.job->status, job_status::queued);
    EXPECT_EQ(out.job->created_at, t0);
    EXPECT_TRUE(store.job(out.job->id));
    EXPECT_EQ(queue->size(), 1u);
    EXPECT_EQ(events.submits, 1);
}

TEST_F(backend_test, a_key_replays_its_job_and_refuses_another_request_or_a_deleted_job) {
    const auto first = accept(request("k-1", "f1"));
    ASSERT_EQ(first.status, submit_status::accepted);
    const auto again = accept(request("k-1", "f1"));
    EXPECT_EQ(again.status, submit_status::replayed);
    ASSERT_TRUE(again.job);
    EXPECT_EQ(again.job->id, first.job->id);
    EXPECT_EQ(queue->size(), 1u) << "a replay makes no second job";

    const auto other = accept(request("k-1", "f2"));
    EXPECT_EQ(other.status, submit_status::key_reused);
    EXPECT_EQ(other.job_id, first.job->id);

    auto another_principal = request("k-1", "f2");
    another_principal.principal = "team-b";
    EXPECT_EQ(accept(another_principal).status, submit_status::accepted) << "keys are per principal";

    EXPECT_EQ(remove(first.job->id), remove_status::removed_live);
    const auto after_delete = accept(request("k-1", "f1"));
    EXPECT_EQ(after_delete.status, submit_status::key_job_deleted);
    EXPECT_EQ(after_delete.job_id, first.job->id);
}

TEST_F(backend_test, a_key_being_committed_is_in_progress_and_a_failed_commit_frees_it) {
    store.hold_writes = true;
    std::promise<submit_outcome> answer;
    auto first = answer.get_future();
    backend->accept(queue, request("k-1"), [&](submit_outcome o) { answer.set_value(std::move(o)); });
    EXPECT_EQ(accept(request("k-1")).status, submit_status::key_in_progress);
    store.fail_writes = true;
    store.release_held();
    ASSERT_EQ(first.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(first.get().status, submit_status::store_unavailable);
    EXPECT_EQ(events.rejects[reject_reason::store_error], 1);
    EXPECT_EQ(queue->size(), 0u);
    store.hold_writes = false;
    store.fail_writes = false;
    EXPECT_EQ(accept(request("k-1")).status, submit_status::accepted) << "the key is free again";
}

TEST_F(backend_test, a_full_queue_refuses_before_anything_is_stored) {
    make_backend(1);
    EXPECT_EQ(accept(request()).status, submit_status::accepted);
    const auto full = accept(request());
    EXPECT_EQ(full.status, submit_status::unavailable);
    EXPECT_NE(full.detail.find("is full (1 jobs)"), std::string::npos) << full.detail;
    EXPECT_EQ(store.jobs().size(), 1u);
    EXPECT_EQ(events.rejects[reject_reason::queue_full], 1);
}

TEST_F(backend_test, a_claim_starts_the_attempt_and_a_finish_ends_it_once) {
    const auto accepted = accept(request());
    clock = t0 + 500;
    auto a = claim();
    EXPECT_EQ(a.job.id, accepted.job->id);
    EXPECT_EQ(a.job.status, job_status::running);
    EXPECT_EQ(a.job.started_at, t0 + 500);
    EXPECT_TRUE(eventually([&] { return store.job(a.job.id)->status == job_status::running; }))
        << "the start is on record";
    EXPECT_EQ(backend->running().size(), 1u);

    backend->progress(a, 50, "half");
    EXPECT_EQ(get(a.job.id).job->progress_percent, 50.0);

    EXPECT_TRUE(succeed(a));
    EXPECT_EQ(store.job(a.job.id)->status, job_status::succeeded);
    EXPECT_TRUE(backend->running().empty());
    EXPECT_TRUE(backend->wait_until_idle(std::chrono::milliseconds(0)));
    EXPECT_EQ(events.completions[job_outcome::succeeded], 1);
    EXPECT_FALSE(succeed(a)) << "the attempt no longer holds the job";
}

TEST_F(backend_test, a_waiter_wakes_when_its_job_changes) {
    const auto accepted = accept(request());
    std::promise<lookup_outcome> answer;
    auto woken = answer.get_future();
    const auto waiter = backend->watch(accepted.job->id, caller{"team-a"}, accepted.job->etag(), std::chrono::seconds(30),
                                       [&](lookup_outcome o) { answer.set_value(std::move(o)); });
    ASSERT_TRUE(waiter);
    EXPECT_NE(*waiter, 0u);
    EXPECT_EQ(backend->waiters(), 1u);
    EXPECT_EQ(woken.wait_for(0s), std::future_status::timeout);
    claim();
    ASSERT_EQ(woken.wait_for(5s), std::future_status::ready) << "the start is a change";
    EXPECT_EQ(woken.get().job->status, job_status::running);
    EXPECT_EQ(backend->waiters(), 0u);
}

TEST_F(backend_test, cancel_in_every_state) {
    // queued: canceled at once, out of the queue
    const auto queued = accept(request());
    const auto c1 = cancel(queued.job->id);
    EXPECT_EQ(c1.status, cancel_status::canceled);
    EXPECT_EQ(c1.job->status, job_status::canceled);
    EXPECT_EQ(queue->size(), 0u);
    EXPECT_EQ(events.completions[job_outcome::canceled], 1);
    // canceled, or another principal's, or unknown
    EXPECT_EQ(cancel(queued.job->id).status, cancel_status::canceled);
    EXPECT_EQ(cancel(queued.job->id, "team-b").status, cancel_status::not_found);
    EXPECT_EQ(cancel("0123456789abcdef0123456789abcdef").status, cancel_status::not_found);

    // running: requested, and the node running it is asked to stop its plugin
    accept(request());
    const auto a = claim();
    const auto c2 = cancel(a.job.id);
    EXPECT_EQ(c2.status, cancel_status::cancel_requested);
    EXPECT_TRUE(c2.job->cancel_requested);
    ASSERT_EQ(host.canceled.size(), 1u);
    EXPECT_EQ(host.canceled[0].control, a.control);
    EXPECT_EQ(cancel(a.job.id).status, cancel_status::cancel_requested);
    EXPECT_EQ(host.canceled.size(), 1u) << "asked once";

    // terminal
    EXPECT_TRUE(succeed(a));
    const auto c3 = cancel(a.job.id);
    EXPECT_EQ(c3.status, cancel_status::already_terminal);

    // deleted
    EXPECT_EQ(remove(a.job.id), remove_status::removed_terminal);
    EXPECT_EQ(cancel(a.job.id).status, cancel_status::gone);
}

TEST_F(backend_test, a_cancel_that_cannot_be_stored_leaves_the_job_queued) {
    const auto queued = accept(request());
    store.fail_writes = true;
    EXPECT_EQ(cancel(queued.job->id).status, cancel_status::internal);
    store.fail_writes = false;
    EXPECT_EQ(get(queued.job->id).job->status, job_status::queued);
    EXPECT_EQ(queue->size(), 1u);
}

TEST_F(backend_test, delete_hides_the_job_at_once_and_stops_a_running_one) {
    accept(request());
    const auto a = claim();
    EXPECT_EQ(remove(a.job.id), remove_status::removed_live);
    EXPECT_EQ(a.control->stop(), stop_reason::canceled);
    EXPECT_TRUE(get(a.job.id).gone);
    EXPECT_FALSE(succeed(a)) << "a deleted job's plugin finishes nothing";
    EXPECT_TRUE(backend->running().empty());
    EXPECT_EQ(remove(a.job.id), remove_status::removed_terminal) << "DELETE again: 204";
    EXPECT_EQ(remove("0123456789abcdef0123456789abcdef"), remove_status::not_found);
}

TEST_F(backend_test, recovery_retries_an_interrupted_attempt_after_its_backoff_or_fails_the_last) {
    auto retried = queued_job("00000000000000000000000000000001");
    retried.status = job_status::running;
    retried.attempt = 2;
    auto last = queued_job("00000000000000000000000000000002");
    last.status = job_status::running;
    last.attempt = 3;
    auto waiting = queued_job("00000000000000000000000000000003");
    auto unknown = queued_job("00000000000000000000000000000004", "gone-type");
    unknown.status = job_status::running;
    for (const auto& r : {retried, last, waiting, unknown}) store.seed(r);
    clock = t0 + 10'000;
    backend->recover();

    const auto r1 = *store.job(retried.id);
    EXPECT_EQ(r1.status, job_status::queued);
    EXPECT_EQ(r1.attempt, 3u);
    EXPECT_EQ(r1.not_before, t0 + 10'000 + 2'000) << "attempt 3 waits twice the 1 s backoff";
    EXPECT_EQ(r1.version, retried.version + 1);

    const auto r2 = *store.job(last.id);
    EXPECT_EQ(r2.status, job_status::failed);
    EXPECT_EQ(r2.error->code, "job-interrupted");
    EXPECT_NE(r2.error->detail.find("3 of 3 attempts used"), std::string::npos) << r2.error->detail;
    EXPECT_EQ(r2.expires_at, t0 + 10'000 + 60'000);

    EXPECT_EQ(store.job(waiting.id)->version, waiting.version) << "a queued job is not rewritten";
    EXPECT_EQ(store.job(unknown.id)->status, job_status::failed) << "a type this node lacks gets one attempt";

    EXPECT_EQ(queue->size(), 2u);  // the retried one (delayed) and the waiting one
    EXPECT_EQ(events.retries, 1);
    EXPECT_EQ(events.completions[job_outcome::interrupted], 1);
}

TEST_F(backend_test, a_type_with_unfinished_jobs_cannot_be_taken_out) {
    accept(request());
    try {
        backend->set_queues({}, {{queue.get(), 0}});
        FAIL() << "a type with a queued job was taken out";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("job type 'report' has 1 unfinished jobs"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(queue->retired());
    const auto a = claim();
    EXPECT_TRUE(succeed(a));
    EXPECT_THROW(backend->set_queues({}, {{queue.get(), 1}}), std::runtime_error) << "a busy worker counts";
    accept(request());
    const auto deleted = claim();
    EXPECT_EQ(remove(deleted.job.id), remove_status::removed_live);
    EXPECT_THROW(backend->set_queues({}, {{queue.get(), 0}}), std::runtime_error)
        << "a deleted job whose plugin still runs holds its worker, whatever the snapshot of busy said";
    EXPECT_FALSE(succeed(deleted));
    backend->set_queues({}, {{queue.get(), 0}});
    EXPECT_TRUE(queue->retired());
    const auto refused = accept(request());
    EXPECT_EQ(refused.status, submit_status::unavailable);
    EXPECT_NE(refused.detail.find("was just reloaded"), std::string::npos);
}

TEST_F(backend_test, after_stop_accepting_nothing_is_accepted_or_claimed) {
    accept(request());
    backend->stop_accepting();
    EXPECT_EQ(accept(request()).status, submit_status::unavailable);
    queue->close();
    auto seat = backend->open_seat("report");
    EXPECT_FALSE(backend->claim(*queue, *seat));
}
