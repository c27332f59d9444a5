// The job state rules (jobs/transitions), as pure functions of a record and the time.
#include "jobs/transitions.hpp"
#include "model/retry_policy.hpp"

#include <gtest/gtest.h>

using namespace ticketd;

namespace {
job_record running_job() {
    job_record r;
    r.id = "0123456789abcdef0123456789abcdef";
    r.type = "hello";
    r.status = job_status::running;
    r.attempt = 2;
    r.created_at = 1'000;
    r.started_at = 2'000;
    r.updated_at = 2'500;
    r.version = 4;
    r.progress_percent = 40.0;
    r.progress_message = "half way";
    return r;
}
}  // namespace

TEST(transitions, touch_bumps_the_version_and_never_moves_updated_at_back) {
    job_record r = running_job();
    transitions::touch(r, 3'000);
    EXPECT_EQ(r.version, 5u);
    EXPECT_EQ(r.updated_at, 3'000);
    transitions::touch(r, 1'500);  // a clock that stepped back
    EXPECT_EQ(r.version, 6u);
    EXPECT_EQ(r.updated_at, 3'000);
}

TEST(transitions, start_runs_the_attempt_from_now_without_progress) {
    job_record r = running_job();
    r.status = job_status::queued;
    const auto tag = r.etag();
    transitions::start(r, 5'000);
    EXPECT_EQ(r.status, job_status::running);
    EXPECT_EQ(r.attempt, 2u);  // the attempt was counted when it was queued
    EXPECT_EQ(r.started_at, 5'000);
    EXPECT_FALSE(r.progress_percent);
    EXPECT_TRUE(r.progress_message.empty());
    EXPECT_EQ(r.version, 5u);
    EXPECT_NE(r.etag(), tag);
}

TEST(transitions, requeue_leaves_no_trace_of_the_run_and_keeps_the_attempt) {
    job_record r = running_job();
    transitions::requeue(r);
    EXPECT_EQ(r.status, job_status::queued);
    EXPECT_EQ(r.attempt, 2u);
    EXPECT_EQ(r.started_at, 0);
    EXPECT_FALSE(r.progress_percent);
    EXPECT_TRUE(r.progress_message.empty());
    EXPECT_EQ(r.not_before, 0);
    EXPECT_EQ(r.version, 4u);  // the caller decides whether clients see it
}

TEST(retry_policy, backoff_multiplies_from_the_third_attempt_and_stops_at_its_maximum) {
    retry_policy p;
    p.initial_ms = 5'000;
    EXPECT_EQ(p.delay_ms(2, 0.5), 5'000);
    EXPECT_EQ(p.delay_ms(3, 0.5), 10'000);
    EXPECT_EQ(p.delay_ms(4, 0.5), 20'000);
    EXPECT_EQ(p.delay_ms(100, 0.5), 3'600'000);
    EXPECT_EQ(p.delay_ms(UINT32_MAX, 0.5), 3'600'000);  // no overflow, no endless loop
    p.multiplier = 3;
    p.max_delay_ms = 30'000;
    EXPECT_EQ(p.delay_ms(3, 0), 15'000);
    EXPECT_EQ(p.delay_ms(4, 0), 30'000);
    p.initial_ms = 0;
    EXPECT_EQ(p.delay_ms(10, 0), 0);
    p.multiplier = 1;  // a constant delay: the loop still ends
    p.initial_ms = 1'000;
    EXPECT_EQ(p.delay_ms(UINT32_MAX, 0), 1'000);
}

TEST(retry_policy, jitter_takes_up_to_its_fraction_off_the_delay) {
    retry_policy p;
    p.initial_ms = 10'000;
    p.jitter = 0.25;
    EXPECT_EQ(p.delay_ms(2, 0.0), 10'000);
    EXPECT_EQ(p.delay_ms(2, 0.5), 8'750);
    EXPECT_EQ(p.delay_ms(2, 0.999999), 7'500);
    EXPECT_EQ(p.delay_ms(2, 7.0), 7'500) << "a random number out of range is clamped";
}

TEST(retry_policy, retries_what_it_lists_and_what_the_plugin_marked_retryable) {
    retry_policy p;  // the default: crashes, and failures the plugin marked retryable
    EXPECT_EQ(p.reason_to_retry(attempt_failure::interrupted, "", false), retry_reason::interrupted);
    EXPECT_EQ(p.reason_to_retry(attempt_failure::failed, "db-down", true), retry_reason::retryable);
    EXPECT_EQ(p.reason_to_retry(attempt_failure::failed, "db-down", false), std::nullopt);
    EXPECT_EQ(p.reason_to_retry(attempt_failure::timeout, "", false), std::nullopt);
    p.on_timeout = true;
    p.on_interrupted = false;
    p.on_codes = {"db-down"};
    EXPECT_EQ(p.reason_to_retry(attempt_failure::timeout, "", false), retry_reason::timeout);
    EXPECT_EQ(p.reason_to_retry(attempt_failure::interrupted, "", false), std::nullopt);
    EXPECT_EQ(p.reason_to_retry(attempt_failure::failed, "db-down", false), retry_reason::failure_code);
    EXPECT_EQ(p.reason_to_retry(attempt_failure::failed, "", false), std::nullopt);
}

TEST(transitions, retry_queues_the_next_attempt_after_its_delay_and_keeps_the_last_attempts) {
    job_record r = running_job();
    r.error = std::make_shared<const job_error>(job_error{"x", "y", "z"});
    transitions::retry(r, 10'000, 5'000, "failed",
                       std::make_shared<const job_error>(job_error{"t/db-down", "Job failed", "no db"}), 2);
    EXPECT_EQ(r.status, job_status::queued);
    EXPECT_EQ(r.attempt, 3u);
    EXPECT_EQ(r.not_before, 15'000);
    EXPECT_EQ(r.started_at, 0);
    EXPECT_FALSE(r.progress_percent);
    EXPECT_EQ(r.error, nullptr);
    ASSERT_TRUE(r.past_attempts);
    ASSERT_EQ(r.past_attempts->size(), 1u);
    EXPECT_EQ(r.past_attempts->front().number, 2u);
    EXPECT_EQ(r.past_attempts->front().finished_at, 10'000);
    EXPECT_EQ(r.past_attempts->front().outcome, "failed");
    EXPECT_EQ(r.past_attempts->front().error->code, "t/db-down");
    for (unix_ms t : {20'000, 30'000}) {
        transitions::start(r, t - 1);
        transitions::retry(r, t, 0, "timeout", nullptr, 2);
    }
    ASSERT_EQ(r.past_attempts->size(), 2u) << "only the last two are kept";
    EXPECT_EQ(r.past_attempts->front().number, 3u);
    EXPECT_EQ(r.past_attempts->back().number, 4u);
    EXPECT_EQ(r.past_attempts->back().outcome, "timeout");
    transitions::retry(r, 40'000, 0, "failed", nullptr, 0);
    EXPECT_EQ(r.past_attempts, nullptr) << "history 0 keeps none";
}

TEST(transitions, terminal_states_keep_the_job_for_its_retention) {
    const job_record from = running_job();
    const auto ok = transitions::terminal(from, job_status::succeeded, std::nullopt, 9'000, 60'000);
    EXPECT_EQ(ok.status, job_status::succeeded);
    EXPECT_EQ(ok.finished_at, 9'000);
    EXPECT_EQ(ok.updated_at, 9'000);
    EXPECT_EQ(ok.expires_at, 69'000);
    EXPECT_EQ(ok.progress_percent, 100.0);
    EXPECT_EQ(ok.error, nullptr);
    EXPECT_EQ(ok.version, from.version);  // the commit gives the version

    const auto failed = transitions::terminal(from, job_status::failed,
                                              job_error{"job-timeout", "Job timed out", "too slow"}, 1'000, 5);
    EXPECT_EQ(failed.status, job_status::failed);
    ASSERT_NE(failed.error, nullptr);
    EXPECT_EQ(failed.error->code, "job-timeout");
    EXPECT_EQ(failed.progress_percent, 40.0);  // where it stood
    EXPECT_EQ(failed.updated_at, 2'500);       // never back in time
    EXPECT_EQ(failed.expires_at, 1'005);
}

TEST(transitions, after_failure_retries_within_the_run_and_never_once_a_cancel_was_asked) {
    retry_policy p;
    p.max_attempts = 3;
    p.initial_ms = 1'000;
    const transitions::failed_attempt flaky = [] {
        transitions::failed_attempt f(attempt_failure::failed, job_error{"t/db-down", "Job failed", "no db"});
        f.plugin_code = "db-down";
        f.retryable = true;
        return f;
    }();
    job_record r = running_job();  // attempt 2 of its first run
    std::optional<retry_reason> why;
    const auto next = transitions::after_failure(r, p, flaky, 50'000, 60'000, 0.0, why);
    EXPECT_EQ(why, retry_reason::retryable);
    EXPECT_EQ(next.status, job_status::queued);
    EXPECT_EQ(next.attempt, 3u);
    EXPECT_EQ(next.not_before, 52'000) << "before the run's third attempt: twice the initial delay";
    job_record third = next;
    transitions::start(third, 55'000);
    const auto last = transitions::after_failure(third, p, flaky, 60'000, 60'000, 0.0, why);
    EXPECT_FALSE(why) << "three attempts used";
    EXPECT_EQ(last.status, job_status::failed);
    EXPECT_EQ(last.error->code, "t/db-down");

    // A re-run has attempts of its own, and its backoff starts again.
    job_record rerun = last;
    transitions::rerun(rerun, 70'000, 10);
    EXPECT_EQ(rerun.first_attempt, 4u);
    transitions::start(rerun, 71'000);
    const auto again = transitions::after_failure(rerun, p, flaky, 72'000, 60'000, 0.0, why);
    EXPECT_EQ(why, retry_reason::retryable);
    EXPECT_EQ(again.not_before, 73'000) << "the run's second attempt waits the initial delay";

    r.cancel_requested = true;
    const auto canceled = transitions::after_failure(r, p, flaky, 50'000, 60'000, 0.0, why);
    EXPECT_FALSE(why) << "a cancel is never undone by a retry";
    EXPECT_EQ(canceled.status, job_status::failed);
}

TEST(transitions, rerun_starts_a_new_run_with_the_ended_attempt_in_the_history) {
    job_record r = running_job();
    r = transitions::terminal(r, job_status::failed, job_error{"t/x", "Job failed", "x"}, 9'000, 60'000);
    r.result_type = "text/plain";
    transitions::rerun(r, 10'000, 10);
    EXPECT_EQ(r.status, job_status::queued);
    EXPECT_EQ(r.attempt, 3u);
    EXPECT_EQ(r.first_attempt, 3u);
    EXPECT_EQ(r.error, nullptr);
    EXPECT_EQ(r.finished_at, 0);
    EXPECT_EQ(r.expires_at, 0);
    EXPECT_TRUE(r.result_type.empty());
    ASSERT_TRUE(r.past_attempts);
    EXPECT_EQ(r.past_attempts->back().number, 2u);
    EXPECT_EQ(r.past_attempts->back().outcome, "failed");
    // Canceled before it ever started: no attempt was used.
    job_record never;
    never.status = job_status::canceled;
    transitions::rerun(never, 10'000, 10);
    EXPECT_EQ(never.attempt, 1u);
    EXPECT_EQ(never.past_attempts, nullptr);
}
