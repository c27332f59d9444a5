// The job state rules (jobs/transitions), as pure functions of a record and the time.
#include "jobs/transitions.hpp"

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

TEST(transitions, backoff_doubles_from_the_third_attempt_and_stops_at_an_hour) {
    EXPECT_EQ(transitions::backoff_ms(5'000, 2), 5'000);
    EXPECT_EQ(transitions::backoff_ms(5'000, 3), 10'000);
    EXPECT_EQ(transitions::backoff_ms(5'000, 4), 20'000);
    EXPECT_EQ(transitions::backoff_ms(5'000, 100), 3'600'000);
    EXPECT_EQ(transitions::backoff_ms(5'000, UINT32_MAX), 3'600'000);  // no overflow, no endless loop
    EXPECT_EQ(transitions::backoff_ms(0, 10), 0);
    EXPECT_EQ(transitions::backoff_ms(7'200'000, 2), 3'600'000);
}

TEST(transitions, retry_queues_the_next_attempt_after_its_backoff) {
    job_record r = running_job();
    transitions::retry(r, 10'000, 5'000);
    EXPECT_EQ(r.status, job_status::queued);
    EXPECT_EQ(r.attempt, 3u);
    EXPECT_EQ(r.not_before, 20'000);  // attempt 3 waits twice the base
    EXPECT_EQ(r.started_at, 0);
    EXPECT_FALSE(r.progress_percent);
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
