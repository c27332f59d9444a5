// protocol.md "Submit" and conformance 5.1.
#include "support/daemon_test.hpp"

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {
class submit : public daemon_test {};
}  // namespace

TEST_F(submit, accepted_job_has_absolute_equal_locations_etag_and_retry_after) {
    auto r = d.submit("sleep", {{"delayMs", 300}});
    ASSERT_EQ(r.status, 202u) << r.body;
    const auto doc = r.json();
    const std::string id = doc["id"];
    EXPECT_EQ(r.header("Location"), d.url("/v1/jobs/" + id));
    EXPECT_EQ(r.header("Content-Location"), r.header("Location"));
    EXPECT_EQ(r.header("Operation-Location"), d.url("/v1/jobs/" + id + "?redirect=false"));
    EXPECT_TRUE(r.header("ETag").has_value());
    EXPECT_EQ(r.header("Cache-Control"), "no-store");
    EXPECT_EQ(doc["status"], "queued");
    EXPECT_GE(std::stoi(r.header("Retry-After").value_or("0")), 1);
    EXPECT_FALSE(r.header("Idempotent-Replayed").has_value());
    EXPECT_EQ(doc["links"]["self"], d.url("/v1/jobs/" + id));
    EXPECT_EQ(doc["links"]["result"], d.url("/v1/jobs/" + id + "/result"));
    EXPECT_EQ(doc["links"]["cancel"], d.url("/v1/jobs/" + id + "/cancel"));
    EXPECT_EQ(id.size(), 32u);
    // Read-after-write: the monitor answers at once.
    auto m = d.get("/v1/jobs/" + id);
    EXPECT_TRUE(m.status == 200 || m.status == 303) << m.status;
}

TEST_F(submit, malformed_bodies_are_400_invalid_request) {
    for (const std::string body : {"", "{not json", "[1,2]", "\"text\"", "42"}) {
        auto r = d.post("/v1/jobs", body);
        expect_problem(r, 400, "invalid-request");
        EXPECT_TRUE(r.json()["errors"].is_array()) << body;
    }
}

TEST_F(submit, invalid_input_points_into_the_request) {
    auto r = d.submit("hello", {{"name", 7}, {"delayMs", -1}, {"extra", true}});
    expect_problem(r, 400, "invalid-request");
    std::set<std::string> pointers;
    for (const auto& e : r.member("errors")) pointers.insert(e["pointer"].get<std::string>());
    EXPECT_EQ(pointers, (std::set<std::string>{"/input/name", "/input/delayMs", "/input/extra"}));

    auto envelope = d.post("/v1/jobs", R"({"type":"hello","priority":"high","labels":{"a":1},"bogus":1})");
    expect_problem(envelope, 400, "invalid-request");
    pointers.clear();
    for (const auto& e : envelope.member("errors")) pointers.insert(e["pointer"].get<std::string>());
    EXPECT_EQ(pointers, (std::set<std::string>{"/priority", "/labels/a", "/bogus"}));
    expect_problem(d.post("/v1/jobs", R"({"input":{}})"), 400, "invalid-request");
}

TEST_F(submit, unknown_type_is_400_unknown_job_type) {
    expect_problem(d.submit("no-such-type"), 400, "unknown-job-type");
}

TEST_F(submit, wrong_media_type_is_415_and_binds_no_key) {
    auto r = d.post("/v1/jobs", R"({"type":"hello"})", {{"Content-Type", "text/plain"}, {"Idempotency-Key", "k415"}});
    expect_problem(r, 415, "unsupported-media-type");
    auto ok = d.submit("hello", {}, {{"Idempotency-Key", "k415"}});
    EXPECT_EQ(ok.status, 202u);
    EXPECT_FALSE(ok.header("Idempotent-Replayed").has_value());
}

TEST_F(submit, respond_async_alone_changes_nothing) {
    auto r = d.submit("hello", {}, {{"Prefer", "respond-async"}});
    EXPECT_EQ(r.status, 202u);
    EXPECT_FALSE(r.header("Preference-Applied").has_value());
}

TEST_F(submit, prefer_wait_holds_the_202_until_a_fast_job_ends) {
    const auto start = std::chrono::steady_clock::now();
    auto r = d.submit("sleep", {{"delayMs", 300}}, {{"Prefer", "wait=30"}});
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(r.status, 202u) << r.body;
    EXPECT_EQ(r.json()["status"], "succeeded");
    EXPECT_EQ(r.header("Preference-Applied"), "wait=30");
    EXPECT_FALSE(r.header("Retry-After").has_value());
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 15s);  // answered when the job ended, not at the 30 s deadline
}

TEST_F(submit, prefer_wait_on_a_slow_job_returns_non_terminal_at_the_deadline) {
    const auto start = std::chrono::steady_clock::now();
    auto r = d.submit("sleep", {{"delayMs", 30000}}, {{"Prefer", "wait=1"}});
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(r.status, 202u);
    EXPECT_NE(r.json()["status"], "succeeded");
    EXPECT_TRUE(r.header("Retry-After").has_value());
    EXPECT_GE(took, 900ms);
    EXPECT_LT(took, 15s);  // at the 1 s deadline, not when the 30 s job ends
}

TEST_F(submit, method_not_allowed_carries_allow) {
    for (const std::string m : {"PUT", "PATCH", "DELETE"}) {
        auto r = http_request(d.port(), m, "/v1/jobs");
        expect_problem(r, 405, "method-not-allowed");
        EXPECT_EQ(r.header("Allow"), "GET, HEAD, POST");
    }
    auto r = http_request(d.port(), "PUT", "/v1/jobs/0123456789abcdef0123456789abcdef");
    EXPECT_EQ(r.header("Allow"), "GET, HEAD, DELETE");
    EXPECT_EQ(http_request(d.port(), "GET", "/v1/jobs/0123456789abcdef0123456789abcdef/cancel").header("Allow"), "POST");
}

namespace {
daemon_config_text short_wait_and_small_queue() {
    daemon_config_text c;
    c.server = "  max_wait: 2s\n";
    c.job_types["tiny.yaml"] = "type: tiny\nplugin: @FIXTURES@/sleep.so\nworkers: 1\nqueue_capacity: 2\n";
    return c;
}
class submit_limits : public daemon_test_with<short_wait_and_small_queue> {};
}  // namespace

TEST_F(submit_limits, prefer_wait_is_capped_by_max_wait) {
    auto r = d.submit("sleep", {{"delayMs", 10000}}, {{"Prefer", "wait=9999"}});
    EXPECT_EQ(r.status, 202u);
    EXPECT_EQ(r.header("Preference-Applied"), "wait=2");
}

TEST_F(submit_limits, a_full_queue_is_503_with_retry_after_and_stores_nothing) {
    // One running (the worker, until canceled), two queued: the queue is full.
    const std::string running = submit_id("tiny", {{"delayMs", 60000}});
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + running).json()["status"] == "running"; }));
    submit_id("tiny", {{"delayMs", 10}});
    submit_id("tiny", {{"delayMs", 10}});
    auto full = d.submit("tiny", {{"delayMs", 10}}, {{"Idempotency-Key", "full-1"}});
    expect_problem(full, 503, "unavailable");
    EXPECT_GE(std::stoi(full.header("Retry-After").value_or("0")), 1);
    EXPECT_EQ(d.get("/v1/jobs?type=tiny").json()["jobs"].size(), 3u);
    ASSERT_EQ(d.post("/v1/jobs/" + running + "/cancel", "").status, 202u);
    // Retried after the queue drains, the same key makes exactly one job.
    ASSERT_TRUE(eventually([&] { return d.submit("tiny", {{"delayMs", 10}}, {{"Idempotency-Key", "full-1"}}).status == 202; },
                           20s));
    EXPECT_EQ(d.get("/v1/jobs?idempotencyKey=full-1").json()["jobs"].size(), 1u);
}

namespace {
daemon_config_text one_worker() {
    daemon_config_text c;
    c.job_types["sleep.yaml"] = "type: sleep\nplugin: @FIXTURES@/sleep.so\nworkers: 1\nmax_input_bytes: 100\n";
    return c;
}
class submit_ordering : public daemon_test_with<one_worker> {};
}  // namespace

TEST_F(submit_ordering, higher_priority_runs_first_and_fifo_within_a_priority) {
    // Runs until canceled, so all three are queued behind it.
    const auto blocker = submit_id("sleep", {{"delayMs", 30000}});
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + blocker).json().contains("progress"); }));
    auto post = [&](int priority) {
        auto r = d.post("/v1/jobs", nlohmann::json{{"type", "sleep"}, {"priority", priority}, {"input", {{"delayMs", 20}}}}.dump());
        EXPECT_EQ(r.status, 202u) << r.body;
        return r.json()["id"].get<std::string>();
    };
    const auto low1 = post(0), low2 = post(0), high = post(5);
    ASSERT_EQ(d.post("/v1/jobs/" + blocker + "/cancel", "").status, 202u);
    std::vector<std::pair<std::string, std::string>> started;  // (startedAt, id)
    for (const auto& id : {low1, low2, high}) started.emplace_back(d.wait_terminal(id)["startedAt"], id);
    std::sort(started.begin(), started.end());
    EXPECT_EQ(started[0].second, high);
    EXPECT_EQ(started[1].second, low1);
    EXPECT_EQ(started[2].second, low2);
}

TEST_F(submit_ordering, input_over_max_input_bytes_is_400_at_input) {
    auto r = d.submit("sleep", {{"text", std::string(200, 'x')}});
    expect_problem(r, 400, "invalid-request");
    EXPECT_EQ(r.json()["errors"][0]["pointer"], "/input");
}

// A plugin whose run() returns with neither a result nor a failure has a bug: the job
// fails with job-no-result instead of succeeding with an empty result that hides it.
TEST_F(submit, a_run_without_result_or_failure_fails_the_job) {
    const auto done = d.wait_terminal(submit_id("sleep", {{"noResult", true}}));
    EXPECT_EQ(done.value("status", ""), "failed") << done.dump();
    EXPECT_EQ(done["error"]["code"], "job-no-result");
    EXPECT_NE(done["error"].value("detail", "").find("without a result"), std::string::npos);
}
