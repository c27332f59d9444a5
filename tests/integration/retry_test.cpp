// Retries against the real binary: a plugin's retryable failures and its own retry delay,
// the type's backoff, what `retry.on` adds (timeouts, failure codes), exhaustion, the
// attempts in the job's document, cancel and delete of a job waiting for its retry, the
// wait across kill -9, and the retry metrics.
#include "support/daemon_test.hpp"
#include "support/sqlite_reader.hpp"

#include <csignal>

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {

daemon_config_text retry_config() {
    daemon_config_text c;
    c.job_types["flaky.yaml"] =
        "type: flaky\nplugin: @FIXTURES@/fail.so\nworkers: 2\n"
        "retry:\n  max_attempts: 3\n  backoff:\n    initial: 300ms\n    multiplier: 2\n    max: 10s\n";
    c.job_types["slow_retry.yaml"] =
        "type: slow_retry\nplugin: @FIXTURES@/fail.so\nretry:\n  max_attempts: 2\n  backoff: {initial: 3s}\n";
    c.job_types["coded.yaml"] =
        "type: coded\nplugin: @FIXTURES@/fail.so\nretry:\n  max_attempts: 2\n  backoff: {initial: 0s}\n"
        "  on: [boom]\n";
    c.job_types["timing_out.yaml"] =
        "type: timing_out\nplugin: @FIXTURES@/sleep.so\ntimeout: 200ms\n"
        "retry:\n  max_attempts: 2\n  backoff: {initial: 0s}\n  on: [timeout]\n";
    c.top = "allow_short_retention: true\n";
    c.job_types["fleeting.yaml"] = "type: fleeting\nplugin: @FIXTURES@/fail.so\nretention: 50s\n";
    return c;
}

using retries = daemon_test_with<retry_config>;

// Each attempt's [startedAt, finishedAt] in ms, from the document.
std::vector<std::pair<int64_t, int64_t>> attempt_times(const nlohmann::json& doc) {
    std::vector<std::pair<int64_t, int64_t>> out;
    for (const auto& a : doc["attempts"]) {
        out.emplace_back(unix_ms_of(a.value("startedAt", "")),
                         a["finishedAt"].is_string() ? unix_ms_of(a.value("finishedAt", "")) : -1);
    }
    return out;
}

}  // namespace

TEST_F(retries, a_retryable_failure_runs_again_after_the_backoff_until_it_succeeds) {
    const auto id = submit_id("flaky", {{"failTimes", 2}});
    // Between attempts: queued, the next attempt's time in the document and in Retry-After.
    nlohmann::json waiting;
    ASSERT_TRUE(eventually([&] {
        const auto r = d.get("/v1/jobs/" + id);
        waiting = r.json();
        if (waiting.value("status", "") != "queued" || waiting.value("attempt", 0) != 2) return false;
        EXPECT_GE(std::stoi(r.header("Retry-After").value_or("0")), 1) << "it cannot change before its next attempt";
        return true;
    })) << waiting.dump();
    ASSERT_TRUE(waiting["nextAttemptAt"].is_string()) << waiting.dump();
    ASSERT_EQ(waiting["attempts"].size(), 1u) << waiting.dump();
    EXPECT_EQ(waiting["attempts"][0]["outcome"], "failed");
    EXPECT_EQ(waiting["attempts"][0]["error"]["code"], "flaky/flaky");
    EXPECT_EQ(waiting["attempts"][0]["error"]["detail"], "attempt 1 failed, on purpose");
    EXPECT_FALSE(waiting.contains("error")) << "a job waiting for its retry has not failed";

    const auto done = d.wait_terminal(id);
    ASSERT_EQ(done.value("status", ""), "succeeded") << done.dump();
    EXPECT_EQ(done.value("attempt", 0), 3);
    EXPECT_FALSE(done.contains("nextAttemptAt"));
    ASSERT_EQ(done["attempts"].size(), 3u) << done.dump();
    for (int i = 0; i < 3; ++i) EXPECT_EQ(done["attempts"][i]["number"], i + 1);
    EXPECT_EQ(done["attempts"][1]["outcome"], "failed");
    EXPECT_EQ(done["attempts"][2]["outcome"], "succeeded");
    EXPECT_FALSE(done["attempts"][2].contains("error"));
    EXPECT_EQ(d.get("/v1/jobs/" + id + "/result").json().value("attempt", 0), 3);
    // The backoff: 300 ms before attempt 2, 600 ms before attempt 3 (and not much more).
    const auto t = attempt_times(done);
    EXPECT_GE(t[1].first - t[0].second, 300) << done.dump();
    EXPECT_GE(t[2].first - t[1].second, 600) << done.dump();
    EXPECT_LT(t[2].first - t[1].second, 600 + 5'000) << done.dump();

    const auto metrics = d.get("/metrics").body;
    EXPECT_NE(metrics.find("ticketd_jobs_retried_total{reason=\"retryable\",type=\"flaky\"} 2"), std::string::npos)
        << metrics.substr(0, 3000);
}

TEST_F(retries, a_plugin_may_name_when_to_retry) {
    const auto id = submit_id("slow_retry", {{"failTimes", 1}, {"retryAfterMs", 50}});
    const auto done = d.wait_terminal(id);
    ASSERT_EQ(done.value("status", ""), "succeeded") << done.dump();
    const auto t = attempt_times(done);
    ASSERT_EQ(t.size(), 2u);
    EXPECT_GE(t[1].first - t[0].second, 50);
    EXPECT_LT(t[1].first - t[0].second, 2'500) << "the plugin's 50 ms, not the type's 3 s";
}

TEST_F(retries, out_of_attempts_the_job_fails_with_every_attempt_listed) {
    const auto id = submit_id("flaky", {{"failTimes", 10}});
    const auto done = d.wait_terminal(id);
    ASSERT_EQ(done.value("status", ""), "failed") << done.dump();
    EXPECT_EQ(done["error"]["code"], "flaky/flaky");
    EXPECT_EQ(done["error"]["detail"], "attempt 3 failed, on purpose");
    ASSERT_EQ(done["attempts"].size(), 3u) << done.dump();
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(done["attempts"][i]["outcome"], "failed");
        EXPECT_EQ(done["attempts"][i]["error"]["detail"], "attempt " + std::to_string(i + 1) + " failed, on purpose");
    }
}

TEST_F(retries, failures_that_are_not_retryable_end_the_job_unless_listed) {
    // The default policy retries only what the plugin marks retryable (and crashes).
    const auto plain = d.wait_terminal(submit_id("fail"));
    EXPECT_EQ(plain.value("status", ""), "failed");
    EXPECT_EQ(plain.value("attempt", 0), 1);
    EXPECT_EQ(plain["attempts"].size(), 1u);
    // `on: [boom]` retries the plugin's code boom; another code is not retried.
    const auto coded = d.wait_terminal(submit_id("coded"));
    EXPECT_EQ(coded.value("attempt", 0), 2) << coded.dump();
    EXPECT_EQ(coded["error"]["code"], "coded/boom");
    const auto other = d.wait_terminal(submit_id("coded", {{"code", "other"}}));
    EXPECT_EQ(other.value("attempt", 0), 1) << other.dump();
    // `on: [timeout]`: a timed-out attempt runs again.
    const auto slow = d.wait_terminal(submit_id("timing_out", {{"delayMs", 10'000}}));
    EXPECT_EQ(slow.value("status", ""), "failed");
    EXPECT_EQ(slow["error"]["code"], "job-timeout");
    ASSERT_EQ(slow["attempts"].size(), 2u) << slow.dump();
    EXPECT_EQ(slow["attempts"][0]["outcome"], "timeout");
    EXPECT_EQ(slow["attempts"][1]["outcome"], "timeout");
    const auto metrics = d.get("/metrics").body;
    EXPECT_NE(metrics.find("ticketd_jobs_retried_total{reason=\"failure_code\",type=\"coded\"} 1"), std::string::npos);
    EXPECT_NE(metrics.find("ticketd_jobs_retried_total{reason=\"timeout\",type=\"timing_out\"} 1"), std::string::npos);
}

TEST_F(retries, a_job_waiting_for_its_retry_can_be_canceled_and_deleted) {
    const auto id = submit_id("slow_retry", {{"failTimes", 1}});
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + id).json().value("attempt", 0) == 2; }));
    ASSERT_TRUE(eventually([&] {
        return d.get("/metrics").body.find("ticketd_queue_retry_waiting{type=\"slow_retry\"} 1") != std::string::npos;
    }));
    const auto canceled = d.post("/v1/jobs/" + id + "/cancel", "");
    EXPECT_EQ(canceled.status, 200u) << canceled.body;
    EXPECT_EQ(canceled.json().value("status", ""), "canceled");
    EXPECT_NE(d.get("/metrics").body.find("ticketd_queue_retry_waiting{type=\"slow_retry\"} 0"), std::string::npos);

    const auto other = submit_id("slow_retry", {{"failTimes", 1}});
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + other).json().value("attempt", 0) == 2; }));
    EXPECT_EQ(d.del("/v1/jobs/" + other).status, 202u);
    EXPECT_EQ(d.get("/v1/jobs/" + other).status, 410u);
}

TEST_F(retries, the_wait_for_a_retry_survives_kill_9_and_the_job_runs_once_on_time) {
    const auto id = submit_id("slow_retry", {{"failTimes", 1}});
    nlohmann::json waiting;
    ASSERT_TRUE(eventually([&] {
        waiting = d.get("/v1/jobs/" + id).json();
        return waiting.value("attempt", 0) == 2 && waiting["nextAttemptAt"].is_string();
    }));
    const int64_t due = unix_ms_of(waiting.value("nextAttemptAt", ""));
    d.kill9();
    d.start();
    const auto after = d.get("/v1/jobs/" + id).json();
    EXPECT_EQ(after.value("status", ""), "queued") << after.dump();
    EXPECT_EQ(after.value("nextAttemptAt", ""), waiting.value("nextAttemptAt", "")) << "the same time, exactly";
    const auto done = d.wait_terminal(id);
    ASSERT_EQ(done.value("status", ""), "succeeded") << done.dump();
    EXPECT_EQ(done.value("attempt", 0), 2) << "exactly once more";
    ASSERT_EQ(done["attempts"].size(), 2u) << done.dump();
    EXPECT_GE(unix_ms_of(done["attempts"][1].value("startedAt", "")), due);
}

TEST_F(retries, job_types_describe_their_retry_policy) {
    const auto types = d.get("/v1/job-types").json()["jobTypes"];
    for (const auto& t : types) {
        if (t.value("type", "") != "timing_out") continue;
        EXPECT_EQ(t["maxAttempts"], 2);
        EXPECT_EQ(t["retry"]["maxAttempts"], 2);
        EXPECT_EQ(t["retry"]["on"], nlohmann::json::array({"timeout"}));
        EXPECT_EQ(t["retry"]["backoff"]["initialSeconds"], 0.0);
        return;
    }
    FAIL() << types.dump();
}

// Schema 8 keeps a job's past attempts in a column of its own: a schema 7 store (made
// here by taking the column out of a current one) is migrated and its jobs read back.
TEST(schema_migration, a_schema_7_store_gains_the_attempts_columns) {
    daemon_process d(retry_config());
    d.start();
    const auto done = d.submit("hello", {{"name", "seven"}});
    ASSERT_EQ(done.status, 202u);
    const std::string id = done.json().value("id", "");
    EXPECT_EQ(d.wait_terminal(id).value("status", ""), "succeeded");
    ASSERT_EQ(d.stop(), 0);
    {
        sqlite_reader db((d.dir() / "state" / "ticketd.db").string());
        db.exec("ALTER TABLE jobs DROP COLUMN attempts; ALTER TABLE jobs DROP COLUMN first_attempt; "
                "PRAGMA user_version = 7;");
    }
    d.start();
    EXPECT_EQ(d.get("/v1/jobs/" + id + "/result").json().value("greeting", ""), "Hello, seven!");
    const auto retried = d.wait_terminal(d.submit("flaky", {{"failTimes", 1}}).json().value("id", ""));
    EXPECT_EQ(retried["attempts"].size(), 2u) << retried.dump();
    ASSERT_EQ(d.stop(), 0);
    sqlite_reader db((d.dir() / "state" / "ticketd.db").string());
    EXPECT_EQ(db.rows("PRAGMA user_version"), std::vector<std::string>{"8"});
    EXPECT_EQ(db.rows("SELECT json_array_length(attempts) FROM jobs WHERE attempts IS NOT NULL"),
              std::vector<std::string>{"1"});
}

TEST_F(retries, a_failed_or_canceled_job_runs_again_with_its_history_and_key) {
    // Fails for good (no retryable failure), then an operator re-runs it: same id, a new
    // attempt, the old one in its history, a new budget of attempts.
    auto first = d.submit("fail", {{"code", "db-down"}}, {{"Idempotency-Key", "rerun-1"}});
    ASSERT_EQ(first.status, 202u);
    const std::string id = first.json().value("id", "");
    const auto failed = d.wait_terminal(id);
    ASSERT_EQ(failed.value("status", ""), "failed");
    const std::string etag = d.get("/v1/jobs/" + id).header("ETag").value_or("");

    const auto again = d.post("/v1/jobs/" + id + "/retry", "");
    ASSERT_EQ(again.status, 202u) << again.body;
    EXPECT_EQ(again.header("Location").value_or(""), d.url("/v1/jobs/" + id));
    EXPECT_NE(again.header("ETag").value_or(""), etag);
    const auto doc = again.json();
    EXPECT_EQ(doc.value("id", ""), id);
    EXPECT_NE(doc.value("status", ""), "failed");
    EXPECT_EQ(doc.value("attempt", 0), 2);
    EXPECT_FALSE(doc.contains("error"));
    EXPECT_TRUE(doc["finishedAt"].is_null());
    // A conditional GET with the failed document's tag sees the change.
    EXPECT_EQ(d.get("/v1/jobs/" + id + "?redirect=false", {{"If-None-Match", etag}}).status, 200u);

    const auto rerun = d.wait_terminal(id);
    EXPECT_EQ(rerun.value("status", ""), "failed");
    ASSERT_EQ(rerun["attempts"].size(), 2u) << rerun.dump();
    EXPECT_EQ(rerun["attempts"][0]["error"]["code"], "fail/db-down");
    // The key still leads to the same job.
    const auto replay = d.submit("fail", {{"code", "db-down"}}, {{"Idempotency-Key", "rerun-1"}});
    EXPECT_EQ(replay.json().value("id", ""), id);
    EXPECT_EQ(replay.header("Idempotent-Replayed").value_or(""), "true");

    // A canceled job too (it never started: no attempt used).
    const auto waiting = submit_id("slow_retry", {{"failTimes", 1}});
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + waiting).json().value("attempt", 0) == 2; }));
    ASSERT_EQ(d.post("/v1/jobs/" + waiting + "/cancel", "").status, 200u);
    EXPECT_EQ(d.post("/v1/jobs/" + waiting + "/retry", "{}").status, 202u);
    const auto after = d.wait_terminal(waiting);
    EXPECT_EQ(after.value("status", ""), "succeeded") << after.dump();
    EXPECT_EQ(after.value("attempt", 0), 2) << "attempt 2 had not started when it was canceled";
}

TEST_F(retries, only_a_failed_or_canceled_job_can_run_again) {
    const auto ok = submit_id("hello");
    d.wait_terminal(ok);
    const auto succeeded = d.post("/v1/jobs/" + ok + "/retry", "");
    expect_problem(succeeded, 409, "job-not-retryable");
    EXPECT_EQ(succeeded.json().value("jobStatus", ""), "succeeded");
    const auto live = submit_id("sleep", {{"delayMs", 10'000}});
    expect_problem(d.post("/v1/jobs/" + live + "/retry", ""), 409, "job-not-retryable");
    EXPECT_EQ(d.post("/v1/jobs/" + live + "/cancel", "").status / 100, 2u);
    const auto failed = submit_id("fail");
    d.wait_terminal(failed);
    ASSERT_EQ(d.del("/v1/jobs/" + failed).status, 204u);
    expect_problem(d.post("/v1/jobs/" + failed + "/retry", ""), 410, "job-gone");
    expect_problem(d.post("/v1/jobs/0123456789abcdef0123456789abcdef/retry", ""), 404, "job-not-found");
    expect_problem(d.post("/v1/jobs/nope/retry", ""), 404, "job-not-found");
    expect_problem(d.post("/v1/jobs/" + ok + "/retry", "{\"x\":1}"), 400, "invalid-request");
    EXPECT_EQ(d.get("/v1/jobs/" + ok + "/retry").status, 405u);
    // A job whose retention ends within a minute is about to be purged: not re-run (its
    // write could land after the purge's delete), in place or in bulk.
    const auto fleeting = submit_id("fleeting");
    d.wait_terminal(fleeting);
    const auto late = d.post("/v1/jobs/" + fleeting + "/retry", "");
    expect_problem(late, 409, "job-not-retryable");
    EXPECT_NE(late.json().value("detail", "").find("about to be purged"), std::string::npos) << late.body;
    EXPECT_EQ(d.get("/v1/jobs/" + fleeting + "?redirect=false").json().value("status", ""), "failed");
}

TEST_F(retries, failed_jobs_are_found_by_code_and_type_and_re_run_in_bulk) {
    std::vector<std::string> down, other;
    for (int i = 0; i < 3; ++i) down.push_back(submit_id("fail", {{"code", "db-down"}}));
    other.push_back(submit_id("fail", {{"code", "bad-input"}}));
    other.push_back(submit_id("coded", {{"code", "db-down"}}));
    for (const auto& id : down) d.wait_terminal(id);
    for (const auto& id : other) d.wait_terminal(id);

    const auto listed = d.get("/v1/jobs?status=failed&type=fail&code=fail/db-down").json()["jobs"];
    EXPECT_EQ(listed.size(), 3u) << listed.dump();

    header_list json = {{"Content-Type", "application/json"}};
    const auto bulk = d.post("/v1/jobs:retry", R"({"type":"fail","code":"fail/db-down","limit":2})", json);
    ASSERT_EQ(bulk.status, 200u) << bulk.body;
    EXPECT_EQ(bulk.json()["matched"], 2);
    EXPECT_EQ(bulk.json()["requeued"], 2);
    EXPECT_EQ(bulk.json()["jobs"].size(), 2u);
    // The newest two (lists are newest first) ran again; the oldest did not.
    for (const auto& id : {down[1], down[2]}) {
        EXPECT_TRUE(eventually([&] {
            const auto doc = d.get("/v1/jobs/" + id).json();
            return doc.value("attempt", 0) == 2 && doc.value("status", "") == "failed";
        })) << id;
    }
    EXPECT_EQ(d.get("/v1/jobs/" + down[0]).json().value("attempt", 0), 1);
    const auto all = d.post("/v1/jobs:retry", R"({"status":["failed"],"code":"fail/db-down","limit":1000})", json);
    ASSERT_EQ(all.status, 200u) << all.body;
    EXPECT_EQ(all.json()["requeued"], 3) << all.body;
    EXPECT_EQ(d.get("/v1/jobs/" + other[0]).json().value("attempt", 0), 1) << "another code is left alone";

    expect_problem(d.post("/v1/jobs:retry", R"({"limit":5000})", json), 400, "invalid-request");
    expect_problem(d.post("/v1/jobs:retry", R"({"status":"succeeded"})", json), 400, "invalid-request");
    expect_problem(d.post("/v1/jobs:retry", R"({"colour":"red"})", json), 400, "invalid-request");
    expect_problem(d.post("/v1/jobs:retry", "[[[[", json), 400, "invalid-request");
    expect_problem(d.post("/v1/jobs:retry", "{\"type\":\"\xff\"}", json), 400, "invalid-request");
    expect_problem(d.post("/v1/jobs:retry", R"({"type":"fail"})", {{"Content-Type", "text/plain"}}), 415,
                   "unsupported-media-type");
    expect_problem(d.post("/v1/jobs:retry", std::string(70, '[') + std::string(70, ']'), json), 400,
                   "invalid-request");
}
