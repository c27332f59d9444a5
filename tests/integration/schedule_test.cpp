// Scheduled jobs through the real binary: runAt and delaySeconds, the `scheduled` status
// and its scheduledFor and Retry-After, starting on time, across kill -9 exactly once,
// cancel, delete and list, the schedule's own capacity apart from the queue's, and the
// refusals (too far off, both given, malformed).
#include "support/daemon_test.hpp"

#include <ctime>

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {

daemon_config_text schedule_config() {
    daemon_config_text c;
    c.top = "jobs:\n  cancel_grace: 1s\n  drain_timeout: 5s\n  max_schedule_ahead: 30d\n";
    c.jobs.clear();
    c.job_types["small.yaml"] =
        "type: small\nplugin: @FIXTURES@/sleep.so\nworkers: 1\nqueue_capacity: 2\nschedule_capacity: 3\n";
    return c;
}

using schedules = daemon_test_with<schedule_config>;

std::string rfc3339(int64_t unix_ms) {
    const std::time_t s = unix_ms / 1000;
    std::tm tm{};
    ::gmtime_r(&s, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return std::string(buf) + "." + std::to_string(1000 + unix_ms % 1000).substr(1) + "Z";
}

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

http_result submit_body(const daemon_process& d, const nlohmann::json& body) {
    return d.post("/v1/jobs", body.dump(), {{"Content-Type", "application/json"}});
}

}  // namespace

TEST_F(schedules, a_job_with_run_at_is_scheduled_then_starts_on_time) {
    const int64_t due = now_ms() + 1'500;
    const auto r = submit_body(d, {{"type", "sleep"}, {"input", {{"delayMs", 1}}}, {"runAt", rfc3339(due)}});
    ASSERT_EQ(r.status, 202u) << r.body;
    const auto doc = r.json();
    EXPECT_EQ(doc.value("status", ""), "scheduled");
    EXPECT_EQ(unix_ms_of(doc.value("scheduledFor", "")), due);
    EXPECT_FALSE(doc.contains("nextAttemptAt"));
    EXPECT_GE(std::stoi(r.header("Retry-After").value_or("0")), 1);
    const std::string id = doc.value("id", "");
    const auto listed = d.get("/v1/jobs?status=scheduled").json()["jobs"];
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].value("id", ""), id);
    EXPECT_NE(d.get("/metrics").body.find("ticketd_jobs_scheduled{type=\"sleep\"} 1"), std::string::npos);

    const auto done = d.wait_terminal(id);
    ASSERT_EQ(done.value("status", ""), "succeeded") << done.dump();
    const int64_t started = unix_ms_of(done.value("startedAt", ""));
    EXPECT_GE(started, due);
    EXPECT_LT(started - due, 2'000) << "it starts when due (the bench measures how close)";
    EXPECT_EQ(unix_ms_of(done.value("scheduledFor", "")), due);
}

TEST_F(schedules, delay_seconds_a_past_run_at_and_the_refusals) {
    const auto later = submit_body(d, {{"type", "sleep"}, {"delaySeconds", 3600}});
    ASSERT_EQ(later.status, 202u) << later.body;
    EXPECT_EQ(later.json().value("status", ""), "scheduled");
    EXPECT_NEAR(static_cast<double>(unix_ms_of(later.json().value("scheduledFor", ""))),
                static_cast<double>(now_ms() + 3'600'000), 60'000.0);
    EXPECT_GE(std::stoi(later.header("Retry-After").value_or("0")), 3000);

    const auto past = submit_body(d, {{"type", "sleep"}, {"runAt", "2020-01-01T00:00:00Z"}});
    ASSERT_EQ(past.status, 202u) << past.body;
    EXPECT_NE(past.json().value("status", ""), "scheduled") << "a time past runs now";
    EXPECT_EQ(d.wait_terminal(past.json().value("id", "")).value("status", ""), "succeeded");

    const auto far = submit_body(d, {{"type", "sleep"}, {"runAt", rfc3339(now_ms() + 40LL * 86'400'000)}});
    expect_problem(far, 400, "invalid-request");
    EXPECT_EQ(far.json()["errors"][0]["pointer"], "/runAt");
    expect_problem(submit_body(d, {{"type", "sleep"}, {"delaySeconds", 31 * 86'400}}), 400, "invalid-request");
    const auto both = submit_body(d, {{"type", "sleep"}, {"delaySeconds", 1}, {"runAt", "2030-01-01T00:00:00Z"}});
    expect_problem(both, 400, "invalid-request");
    for (const nlohmann::json& bad : {nlohmann::json("tomorrow"), nlohmann::json(12), nlohmann::json("2026-13-40T99:00:00Z"),
                                      nlohmann::json("\xff")}) {
        const auto r = d.post("/v1/jobs", R"({"type":"sleep","runAt":)" + bad.dump(-1, ' ', false,
                                          nlohmann::json::error_handler_t::ignore) + "}",
                              {{"Content-Type", "application/json"}});
        EXPECT_EQ(r.status, 400u) << bad.dump(-1, ' ', false, nlohmann::json::error_handler_t::ignore);
    }
    for (const auto& bad : {"-1", "1.5", "1e400", "\"1\"", "99999999999999999999"}) {
        const auto r = d.post("/v1/jobs", std::string(R"({"type":"sleep","delaySeconds":)") + bad + "}",
                              {{"Content-Type", "application/json"}});
        expect_problem(r, 400, "invalid-request");
    }
}

TEST_F(schedules, scheduled_jobs_can_be_canceled_and_deleted_and_do_not_fill_the_queue) {
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        const auto r = submit_body(d, {{"type", "small"}, {"delaySeconds", 3600}});
        ASSERT_EQ(r.status, 202u) << r.body;
        ids.push_back(r.json().value("id", ""));
    }
    // The schedule's capacity is its own (3): a fourth is refused, ready work is not.
    expect_problem(submit_body(d, {{"type", "small"}, {"delaySeconds", 3600}}), 503, "unavailable");
    EXPECT_EQ(d.submit("small", {{"delayMs", 5'000}}).status, 202u);
    EXPECT_EQ(d.submit("small", {{"delayMs", 1}}).status, 202u);

    const auto canceled = d.post("/v1/jobs/" + ids[0] + "/cancel", "");
    ASSERT_EQ(canceled.status, 200u) << canceled.body;
    EXPECT_EQ(canceled.json().value("status", ""), "canceled");
    EXPECT_EQ(d.del("/v1/jobs/" + ids[1]).status, 202u);
    EXPECT_EQ(d.get("/v1/jobs/" + ids[1]).status, 410u);
    EXPECT_EQ(submit_body(d, {{"type", "small"}, {"delaySeconds", 3600}}).status, 202u) << "places were freed";
    EXPECT_NE(d.get("/metrics").body.find("ticketd_jobs_scheduled{type=\"small\"} 2"), std::string::npos);
}

TEST_F(schedules, scheduled_jobs_survive_kill_9_and_run_once_on_time) {
    const int64_t due = now_ms() + 2'500;
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        const auto r = submit_body(d, {{"type", "sleep"}, {"input", {{"delayMs", 1}}}, {"runAt", rfc3339(due)}});
        ASSERT_EQ(r.status, 202u) << r.body;
        ids.push_back(r.json().value("id", ""));
    }
    d.kill9();
    d.start();
    EXPECT_EQ(d.get("/v1/jobs/" + ids[0]).json().value("status", ""), "scheduled");
    for (const auto& id : ids) {
        const auto done = d.wait_terminal(id);
        EXPECT_EQ(done.value("status", ""), "succeeded");
        EXPECT_EQ(done.value("attempt", 0), 1) << "exactly once";
        EXPECT_GE(unix_ms_of(done.value("startedAt", "")), due);
    }
    // And one still scheduled across a clean restart keeps its time.
    const auto later = submit_body(d, {{"type", "sleep"}, {"delaySeconds", 600}}).json();
    d.stop();
    d.start();
    const auto after = d.get("/v1/jobs/" + later.value("id", "")).json();
    EXPECT_EQ(after.value("status", ""), "scheduled");
    EXPECT_EQ(after.value("scheduledFor", ""), later.value("scheduledFor", ""));
}
