// The status monitor, long-polls and results: conformance 5.3, 5.4, 5.5.
#include "support/daemon_test.hpp"


using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {
class monitor : public daemon_test {
   protected:
    static std::chrono::milliseconds since(std::chrono::steady_clock::time_point t) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t);
    }
};
}  // namespace

TEST_F(monitor, live_job_is_200_with_retry_after_no_cache_and_etag) {
    const auto id = submit_id("sleep", {{"delayMs", 30000}});
    auto r = d.get("/v1/jobs/" + id);
    ASSERT_EQ(r.status, 200u);
    const int ra = std::stoi(r.header("Retry-After").value_or("0"));
    EXPECT_GE(ra, 1);
    EXPECT_LE(ra, 60);
    EXPECT_NE(r.header("Cache-Control").value_or("").find("no-cache"), std::string::npos);
    EXPECT_TRUE(r.header("ETag").has_value());
    EXPECT_EQ(r.json()["id"], id);
}

TEST_F(monitor, succeeded_is_303_to_the_result_and_head_matches) {
    const auto id = submit_id("sleep", {{"delayMs", 1}});
    d.wait_terminal(id);
    auto r = d.get("/v1/jobs/" + id);
    ASSERT_EQ(r.status, 303u);
    EXPECT_EQ(r.header("Location"), d.url("/v1/jobs/" + id + "/result"));
    EXPECT_EQ(r.json()["links"]["result"], r.header("Location").value());
    EXPECT_FALSE(r.header("Retry-After").has_value());
    auto h = http_request(d.port(), "HEAD", "/v1/jobs/" + id);
    EXPECT_EQ(h.status, 303u);
    EXPECT_TRUE(h.body.empty());
    EXPECT_EQ(h.header("Location"), r.header("Location"));
    EXPECT_EQ(h.header("ETag"), r.header("ETag"));
    EXPECT_EQ(h.header("Content-Length"), std::to_string(r.body.size()));

    auto plain = d.get("/v1/jobs/" + id + "?redirect=false");
    EXPECT_EQ(plain.status, 200u);
    EXPECT_EQ(plain.json()["resourceLocation"], d.url("/v1/jobs/" + id + "/result"));

    // Following the 303 ends at the result.
    auto result = d.get("/v1/jobs/" + id + "/result");
    EXPECT_EQ(result.status, 200u);
    EXPECT_EQ(result.header("Content-Location"), d.url("/v1/jobs/" + id + "/result"));
    EXPECT_EQ(result.header("Content-Type"), "application/json");
    EXPECT_EQ(result.json()["jobId"], id);
}

TEST_F(monitor, failed_job_is_200_with_an_error_problem_object) {
    const auto id = submit_id("fail");
    const auto doc = d.wait_terminal(id);
    auto r = d.get("/v1/jobs/" + id);
    EXPECT_EQ(r.status, 200u);
    EXPECT_FALSE(r.header("Retry-After").has_value());
    EXPECT_EQ(doc["status"], "failed");
    EXPECT_EQ(doc["error"]["code"], "fail/boom");
    EXPECT_FALSE(doc["error"].value("title", "").empty());
    EXPECT_TRUE(doc["error"].contains("type"));
    EXPECT_FALSE(doc["error"].contains("status"));
    EXPECT_FALSE(doc.contains("resourceLocation"));
}

TEST_F(monitor, a_throwing_plugin_fails_the_job_with_its_message) {
    const auto doc = d.wait_terminal(submit_id("throw"));
    EXPECT_EQ(doc["status"], "failed");
    EXPECT_EQ(doc["error"]["code"], "throw/exception");
    EXPECT_EQ(doc["error"]["detail"], "thrown by the throw fixture");
}

TEST_F(monitor, terminal_states_are_absorbing_and_etag_is_stable) {
    const auto id = submit_id("sleep", {{"delayMs", 1}});
    const auto first = d.wait_terminal(id);
    const auto etag = d.get("/v1/jobs/" + id).header("ETag");
    for (int i = 0; i < 3; ++i) {
        auto r = d.get("/v1/jobs/" + id + "?redirect=false");
        EXPECT_EQ(r.json()["status"], "succeeded");
        EXPECT_EQ(r.json()["finishedAt"], first["finishedAt"]);
        EXPECT_EQ(r.header("ETag"), etag);
    }
}

TEST_F(monitor, if_none_match_with_the_current_etag_is_304) {
    const auto id = submit_id("sleep", {{"delayMs", 30000}});
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + id).json().contains("progress"); }));
    auto r = d.get("/v1/jobs/" + id);
    auto again = d.get("/v1/jobs/" + id, {{"If-None-Match", r.header("ETag").value()}});
    EXPECT_EQ(again.status, 304u);
    EXPECT_TRUE(again.body.empty());
    EXPECT_TRUE(again.header("Retry-After").has_value());
}

TEST_F(monitor, unknown_and_malformed_ids_are_indistinguishable_404s) {
    auto unknown = d.get("/v1/jobs/0123456789abcdef0123456789abcdef");
    auto malformed = d.get("/v1/jobs/not-an-id");
    expect_problem(unknown, 404, "job-not-found");
    expect_problem(malformed, 404, "job-not-found");
    auto a = unknown.json(), b = malformed.json();
    for (auto* p : {&a, &b}) {
        p->erase("instance");
        p->erase("requestId");
    }
    EXPECT_EQ(a, b);
}

TEST_F(monitor, progress_stays_within_bounds_and_never_decreases) {
    const auto id = submit_id("hello", {{"delayMs", 600}});
    double last = -1;
    ASSERT_TRUE(eventually([&] {
        auto doc = d.get("/v1/jobs/" + id + "?redirect=false").json();
        if (doc.contains("progress")) {
            const double p = doc["progress"]["percent"];
            EXPECT_GE(p, 0.0);
            EXPECT_LE(p, 100.0);
            EXPECT_GE(p, last);
            last = p;
        }
        return doc["status"] == "succeeded";
    }));
    EXPECT_GT(last, 0.0);
}

TEST_F(monitor, operation_location_never_answers_303) {
    auto r = d.submit("sleep", {{"delayMs", 1}});
    d.wait_terminal(r.json()["id"]);
    const auto op = r.header("Operation-Location").value();
    auto m = d.get(op.substr(op.find("/v1/")));
    EXPECT_EQ(m.status, 200u);
}

TEST_F(monitor, long_poll_returns_when_the_job_ends) {
    const auto id = submit_id("sleep", {{"delayMs", 700}});
    const auto start = std::chrono::steady_clock::now();
    auto r = d.get("/v1/jobs/" + id, {{"Prefer", "wait=30"}});
    EXPECT_EQ(r.status, 303u);
    EXPECT_EQ(r.header("Preference-Applied"), "wait=30");
    EXPECT_EQ(r.header("Vary"), "Prefer");
    EXPECT_LT(since(start), 15s);  // when the job ended, not at the 30 s deadline
    auto q = d.get("/v1/jobs/" + submit_id("sleep", {{"delayMs", 300}}) + "?wait=30&redirect=false");
    EXPECT_EQ(q.status, 200u);
    EXPECT_EQ(q.json()["status"], "succeeded");
}

TEST_F(monitor, long_poll_on_a_long_job_returns_at_the_deadline_with_retry_after_0) {
    const auto id = submit_id("sleep", {{"delayMs", 20000}});
    const auto start = std::chrono::steady_clock::now();
    auto r = d.get("/v1/jobs/" + id, {{"Prefer", "wait=1"}});
    const auto took = since(start);
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.header("Preference-Applied"), "wait=1");
    EXPECT_EQ(r.header("Retry-After"), "0");
    EXPECT_GE(took, 900ms);
    EXPECT_LT(took, 10s);  // at the 1 s deadline, not when the 20 s job ends
}

TEST_F(monitor, long_poll_with_if_none_match_returns_on_change_or_304_at_deadline) {
    const auto id = submit_id("sleep", {{"delayMs", 20000}});
    // The sleep fixture reports progress once at its start, then nothing changes.
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + id).json().contains("progress"); }));
    const auto etag = d.get("/v1/jobs/" + id).header("ETag").value();
    auto start = std::chrono::steady_clock::now();
    auto unchanged = d.get("/v1/jobs/" + id + "?wait=1", {{"If-None-Match", etag}});
    EXPECT_EQ(unchanged.status, 304u);
    EXPECT_GE(since(start), 900ms);

    // A change wakes the waiter with the new ETag: hello reports progress as it goes.
    const auto moving = submit_id("hello", {{"delayMs", 20000}});
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + moving).json().contains("progress"); }));
    const auto moving_etag = d.get("/v1/jobs/" + moving).header("ETag").value();
    start = std::chrono::steady_clock::now();
    auto changed = d.get("/v1/jobs/" + moving + "?wait=30", {{"If-None-Match", moving_etag}});
    EXPECT_EQ(changed.status, 200u);
    EXPECT_NE(changed.header("ETag"), moving_etag);
    EXPECT_LT(since(start), 15s);  // on the next progress, not when the 20 s job ends
}

TEST_F(monitor, waiting_on_a_terminal_job_returns_at_once) {
    const auto id = submit_id("sleep", {{"delayMs", 1}});
    d.wait_terminal(id);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(d.get("/v1/jobs/" + id + "?wait=20").status, 303u);
    EXPECT_LT(since(start), 10s);  // not the 20 s wait
}

TEST_F(monitor, bad_wait_query_is_400_but_bad_prefer_is_ignored) {
    const auto id = submit_id("sleep", {{"delayMs", 30000}});
    expect_problem(d.get("/v1/jobs/" + id + "?wait=abc"), 400, "invalid-wait");
    const auto start = std::chrono::steady_clock::now();
    auto r = d.get("/v1/jobs/" + id, {{"Prefer", "wait=abc"}});
    EXPECT_EQ(r.status, 200u);
    EXPECT_LT(since(start), 10s);  // no wait at all, not one until the 30 s job ends
}

TEST_F(monitor, result_of_live_failed_and_unknown_jobs) {
    const auto live = submit_id("sleep", {{"delayMs", 30000}});
    auto r = d.get("/v1/jobs/" + live + "/result");
    expect_problem(r, 409, "result-not-ready");
    EXPECT_TRUE(r.header("Retry-After").has_value());
    EXPECT_TRUE(r.json().contains("jobStatus"));

    const auto failed = submit_id("fail");
    d.wait_terminal(failed);
    auto f = d.get("/v1/jobs/" + failed + "/result");
    expect_problem(f, 409, "result-unavailable");
    EXPECT_EQ(f.json()["jobStatus"], "failed");
    EXPECT_EQ(f.json()["jobError"]["code"], "fail/boom");

    expect_problem(d.get("/v1/jobs/0123456789abcdef0123456789abcdef/result"), 404, "job-not-found");
}

TEST_F(monitor, result_has_type_etag_expires_and_conditional_get) {
    const auto id = submit_id("sleep", {{"delayMs", 1}, {"text", "plain words"}});
    const auto doc = d.wait_terminal(id);
    auto r = d.get("/v1/jobs/" + id + "/result");
    ASSERT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, "plain words");
    EXPECT_EQ(r.header("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(r.header("Content-Length"), "11");
    EXPECT_TRUE(r.header("Expires").has_value());
    const auto etag = r.header("ETag").value();
    EXPECT_EQ(etag.front(), '"');
    EXPECT_EQ(d.get("/v1/jobs/" + id + "/result", {{"If-None-Match", etag}}).status, 304u);
    auto h = http_request(d.port(), "HEAD", "/v1/jobs/" + id + "/result");
    EXPECT_EQ(h.status, 200u);
    EXPECT_EQ(h.header("Content-Length"), "11");
    EXPECT_TRUE(h.body.empty());
}

TEST_F(monitor, a_result_written_to_a_host_file_is_served) {
    const auto id = submit_id("sleep", {{"delayMs", 1}, {"file", "a,b\n1,2\n"}});
    d.wait_terminal(id);
    auto r = d.get("/v1/jobs/" + id + "/result");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.header("Content-Type"), "text/csv");
    EXPECT_EQ(r.body, "a,b\n1,2\n");
}

// RFC 9110 14: one byte range of a result (a download resumed after a cut connection),
// from a file result across the server's 64 KiB read pieces, and from an inline one.
TEST_F(monitor, a_range_of_a_result_is_206_and_past_its_end_416) {
    std::string content;
    for (int i = 0; content.size() < 150000; ++i) content += std::to_string(i) + ",";
    const std::string n = std::to_string(content.size());
    const auto id = submit_id("sleep", {{"delayMs", 1}, {"file", content}});
    d.wait_terminal(id);
    const std::string result = "/v1/jobs/" + id + "/result";

    const auto whole = d.get(result);
    ASSERT_EQ(whole.status, 200u);
    EXPECT_EQ(whole.header("Accept-Ranges"), "bytes");
    EXPECT_EQ(whole.body, content);
    const auto etag = whole.header("ETag").value();

    struct asked {
        std::string range;
        uint64_t first, length;
    };
    for (const auto& a : {asked{"bytes=0-9", 0, 10}, asked{"bytes=65530-140000", 65530, 140000 - 65530 + 1},
                          asked{"bytes=-5", content.size() - 5, 5}, asked{"bytes=149990-", 149990, content.size() - 149990},
                          asked{"bytes=100-999999", 100, content.size() - 100}}) {
        const auto r = d.get(result, {{"Range", a.range}});
        ASSERT_EQ(r.status, 206u) << a.range;
        EXPECT_EQ(r.header("Content-Range"),
                  "bytes " + std::to_string(a.first) + "-" + std::to_string(a.first + a.length - 1) + "/" + n)
            << a.range;
        EXPECT_EQ(r.header("Content-Length"), std::to_string(a.length)) << a.range;
        EXPECT_EQ(r.body, content.substr(a.first, a.length)) << a.range;
        EXPECT_EQ(r.header("ETag"), etag);
        EXPECT_EQ(r.header("Content-Type"), "text/csv");
    }

    const auto past = d.get(result, {{"Range", "bytes=" + n + "-"}});
    EXPECT_EQ(past.status, 416u);
    EXPECT_EQ(past.header("Content-Range"), "bytes */" + n);
    EXPECT_EQ(past.header("Content-Type"), "application/problem+json");
    EXPECT_EQ(past.json()["code"], "range-not-satisfiable");
    EXPECT_EQ(past.json()["resultBytes"], content.size());

    // If-Range: a part only of the copy the client has; else the whole current result.
    EXPECT_EQ(d.get(result, {{"Range", "bytes=0-9"}, {"If-Range", etag}}).status, 206u);
    const auto changed = d.get(result, {{"Range", "bytes=0-9"}, {"If-Range", "\"r-old\""}});
    EXPECT_EQ(changed.status, 200u);
    EXPECT_EQ(changed.body, content);
    // Several ranges are answered whole (no multipart), and HEAD is never a part.
    EXPECT_EQ(d.get(result, {{"Range", "bytes=0-1,5-6"}}).body, content);
    const auto head = http_request(d.port(), "HEAD", result, {{"Range", "bytes=0-9"}});
    EXPECT_EQ(head.status, 200u);
    EXPECT_EQ(head.header("Content-Length"), n);
    // The daemon serves on after a 416 and parts on the same connection.
    EXPECT_EQ(d.get("/healthz").status, 200u);
}

TEST_F(monitor, a_range_of_an_inline_result) {
    const auto id = submit_id("sleep", {{"delayMs", 1}, {"text", "hello world"}});
    d.wait_terminal(id);
    const std::string result = "/v1/jobs/" + id + "/result";
    const auto part = d.get(result, {{"Range", "bytes=6-"}});
    EXPECT_EQ(part.status, 206u);
    EXPECT_EQ(part.header("Content-Range"), "bytes 6-10/11");
    EXPECT_EQ(part.body, "world");
    EXPECT_EQ(part.header("Accept-Ranges"), "bytes");
    const auto past = d.get(result, {{"Range", "bytes=11-"}});
    EXPECT_EQ(past.status, 416u);
    EXPECT_EQ(past.header("Content-Range"), "bytes */11");
    // A conditional GET that matches is still 304, Range or not.
    EXPECT_EQ(d.get(result, {{"Range", "bytes=0-1"}, {"If-None-Match", part.header("ETag").value()}}).status, 304u);
}
