// Server limits and cross-cutting headers: sizes, deadlines, caps, request ids, URLs.
#include "support/daemon_test.hpp"

#include <thread>

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {
daemon_config_text tight_limits() {
    daemon_config_text c;
    c.server =
        "  public_base_url: https://jobs.example.com/\n"
        "  max_body_bytes: 4KiB\n"
        "  max_header_bytes: 2KiB\n"
        "  max_connections: 8\n"
        "  max_waiters: 1\n";
    return c;
}
class limits : public daemon_test_with<tight_limits> {};

// Only the tests of the deadlines themselves: a 1 s deadline on every test's requests
// would cut off honest ones on a slow machine.
daemon_config_text short_deadlines() {
    daemon_config_text c;
    c.server =
        "  request_timeout: 1s\n"
        "  idle_timeout: 1s\n";
    return c;
}
class short_timeouts : public daemon_test_with<short_deadlines> {};
}  // namespace

TEST_F(limits, oversized_body_is_413_and_binds_no_key) {
    const std::string big = R"({"type":"hello","input":{"name":")" + std::string(5000, 'x') + "\"}}";
    expect_problem(d.post("/v1/jobs", big, {{"Idempotency-Key", "big"}}), 413, "content-too-large");
    auto ok = d.submit("hello", {}, {{"Idempotency-Key", "big"}});
    EXPECT_EQ(ok.status, 202u);
    EXPECT_FALSE(ok.header("Idempotent-Replayed").has_value());
}

TEST_F(limits, oversized_headers_are_431) {
    auto r = d.get("/v1/jobs", {{"X-Filler", std::string(4000, 'h')}});
    EXPECT_EQ(r.status, 431u);
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
}

TEST_F(short_timeouts, a_client_that_trickles_its_request_is_cut_off) {
    raw_connection c(d.port());
    ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\n"));
    const auto start = std::chrono::steady_clock::now();
    bool closed = false;
    for (int i = 0; i < 150 && !closed; ++i) {  // one header byte every 100 ms: 15 s uncut
        closed = !c.send("X") || c.closed_by_peer(100ms);
    }
    EXPECT_TRUE(closed || c.closed_by_peer(5s));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST_F(short_timeouts, an_idle_connection_is_closed) {
    raw_connection c(d.port());
    EXPECT_TRUE(c.closed_by_peer(15s));  // the default idle_timeout is 60 s
}

TEST_F(limits, connections_past_the_cap_get_503) {
    std::vector<std::unique_ptr<raw_connection>> held;
    for (int i = 0; i < 8; ++i) held.push_back(std::make_unique<raw_connection>(d.port()));
    // The server counts a connection once it has accepted it.
    ASSERT_TRUE(eventually([&] {
        raw_connection extra(d.port());
        const auto answer = extra.read_until_close(2s);
        return answer.find("503") != std::string::npos && answer.find("Retry-After") != std::string::npos;
    }));
    held.clear();
    EXPECT_TRUE(eventually([&] { return d.get("/healthz").status == 200; }));
}

TEST_F(limits, long_polls_past_the_cap_get_503) {
    // max_waiters is 1: of four long-polls started together, one waits, three are refused.
    const auto id = submit_id("sleep", {{"delayMs", 20000}});
    std::vector<http_result> results(4);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < results.size(); ++i) {
        threads.emplace_back([&, i] { results[i] = d.get("/v1/jobs/" + id + "?wait=10"); });
    }
    for (auto& t : threads) t.join();
    int waited = 0, refused = 0;
    for (const auto& r : results) {
        if (r.status == 200) ++waited;
        if (r.status == 503 && r.header("Retry-After")) ++refused;
    }
    EXPECT_EQ(waited, 1);
    EXPECT_EQ(refused, 3);
}

TEST_F(limits, a_client_that_leaves_mid_wait_frees_its_waiter_slot_at_once) {
    const auto id = submit_id("sleep", {{"delayMs", 30000}});
    std::unique_ptr<raw_connection> leaving;
    // Its long-poll holds the only slot (max_waiters: 1): another long-poll is refused.
    // (Should the probe win the race for the slot, start over with a new connection.)
    ASSERT_TRUE(eventually([&] {
        leaving = std::make_unique<raw_connection>(d.port());
        leaving->send("GET /v1/jobs/" + id + "?wait=30 HTTP/1.1\r\nHost: x\r\n\r\n");
        return d.get("/v1/jobs/" + id + "?wait=1").status == 503;
    }, 10s));
    leaving.reset();  // it hangs up: the slot is free long before its 30 s are over
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + id + "?wait=1").status == 200; }, 20s));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
}

TEST_F(limits, urls_come_from_public_base_url_never_from_host) {
    auto r = http_request(d.port(), "POST", "/v1/jobs",
                          {{"Content-Type", "application/json"}, {"Host", "evil.example"},
                           {"X-Forwarded-Host", "evil.example"}},
                          R"({"type":"hello"})");
    ASSERT_EQ(r.status, 202u);
    EXPECT_EQ(r.header("Location").value().rfind("https://jobs.example.com/v1/jobs/", 0), 0u);
    EXPECT_EQ(r.json()["links"]["self"].get<std::string>().rfind("https://jobs.example.com/v1/jobs/", 0), 0u);
    auto p = d.get("/nowhere");
    expect_problem(p, 404, "not-found");
    EXPECT_EQ(p.json()["type"], "https://jobs.example.com/problems/not-found");
}

TEST_F(limits, expect_100_continue_gets_its_go_ahead_at_once) {
    raw_connection c(d.port());
    const std::string body = R"({"type":"hello","input":{"name":"Ada"}})";
    ASSERT_TRUE(c.send("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
                       "Expect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
    // Nothing but the interim answer may come before the body is sent.
    std::string interim;
    ASSERT_TRUE(eventually([&] {
        interim += c.read_until_close(std::chrono::milliseconds(50));
        return interim.find("\r\n\r\n") != std::string::npos;
    }, 20s));
    EXPECT_EQ(interim.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << interim;
    ASSERT_TRUE(c.send(body));
    const auto final_answer = c.read_until_close(20s);
    EXPECT_NE(final_answer.find("HTTP/1.1 202 Accepted"), std::string::npos) << final_answer;
}

namespace {
// The answers in `raw`, each as its head and body (split by its Content-Length).
std::vector<std::pair<std::string, std::string>> split_answers(std::string raw) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!raw.empty()) {
        const auto end = raw.find("\r\n\r\n");
        if (end == std::string::npos) break;
        std::string head = raw.substr(0, end + 4);
        const auto cl = head.find("Content-Length: ");
        const size_t length = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 16));
        out.emplace_back(head, raw.substr(end + 4, length));
        raw.erase(0, std::min(raw.size(), end + 4 + length));
    }
    return out;
}
}  // namespace

TEST_F(limits, answers_keep_the_connection_semantics_of_http_1_0_and_1_1) {
    {   // 1.1: kept open by default, closed (and said so) when the client asks.
        raw_connection c(d.port());
        ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                           "GET /v1/jobs/0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        const auto answers = split_answers(c.read_until_close(10s));
        ASSERT_EQ(answers.size(), 2u);
        EXPECT_EQ(answers[0].first.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answers[0].first;
        EXPECT_EQ(answers[0].first.find("Connection:"), std::string::npos) << answers[0].first;
        EXPECT_EQ(answers[1].first.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << answers[1].first;
        EXPECT_NE(answers[1].first.find("\r\nConnection: close\r\n"), std::string::npos) << answers[1].first;
        EXPECT_NE(answers[1].first.find("\r\nContent-Type: application/problem+json\r\n"), std::string::npos);
        EXPECT_EQ(nlohmann::json::parse(answers[1].second)["status"], 404) << answers[1].second;
    }
    {   // 1.0: closed by default.
        raw_connection c(d.port());
        ASSERT_TRUE(c.send("GET /healthz HTTP/1.0\r\n\r\n"));
        const auto answers = split_answers(c.read_until_close(10s));
        ASSERT_EQ(answers.size(), 1u);
        EXPECT_EQ(answers[0].first.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << answers[0].first;
        EXPECT_EQ(answers[0].first.find("keep-alive"), std::string::npos) << answers[0].first;
    }
    {   // 1.0 asking to keep it open: said so, and a second request is answered on it.
        raw_connection c(d.port());
        ASSERT_TRUE(c.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                           "HEAD /healthz HTTP/1.0\r\n\r\n"));
        const auto raw = c.read_until_close(10s);
        const auto first_end = raw.find("\r\n\r\n");
        ASSERT_NE(first_end, std::string::npos) << raw;
        EXPECT_NE(raw.substr(0, first_end).find("\r\nConnection: keep-alive"), std::string::npos) << raw;
        // The HEAD answer: a Content-Length, no body, then the close.
        const auto second = raw.find("HTTP/1.0 200 OK\r\n", first_end);
        ASSERT_NE(second, std::string::npos) << raw;
        EXPECT_NE(raw.find("Content-Length: ", second), std::string::npos);
        EXPECT_EQ(raw.size(), raw.find("\r\n\r\n", second) + 4) << raw;
    }
}

TEST_F(limits, request_ids_are_echoed_or_generated) {
    auto mine = d.get("/healthz", {{"X-Request-Id", "req-123"}});
    EXPECT_EQ(mine.header("X-Request-Id"), "req-123");
    auto generated = d.get("/healthz");
    EXPECT_EQ(generated.header("X-Request-Id").value_or("").size(), 32u);
    auto p = d.get("/v1/jobs/0123456789abcdef0123456789abcdef", {{"X-Request-Id", "req-456"}});
    EXPECT_EQ(p.json()["requestId"], "req-456");
}

TEST_F(limits, health_readiness_and_head_everywhere_get_is) {
    EXPECT_EQ(d.get("/healthz").status, 200u);
    EXPECT_EQ(d.get("/readyz").status, 200u);
    for (const std::string path : {"/healthz", "/readyz", "/v1/jobs", "/v1/job-types"}) {
        auto h = http_request(d.port(), "HEAD", path);
        EXPECT_EQ(h.status, 200u) << path;
        EXPECT_TRUE(h.body.empty());
        EXPECT_NE(h.header("Content-Length").value_or("0"), "0") << path;
    }
    const auto types = d.get("/v1/job-types").json()["jobTypes"];
    bool found = false;
    for (const auto& t : types) {
        if (t["type"] == "hello") {
            found = true;
            EXPECT_EQ(t["plugin"]["name"], "hello");
            EXPECT_EQ(t["inputSchema"]["properties"]["delayMs"]["type"], "integer");
            EXPECT_EQ(t["settingsSchema"]["properties"]["greeting"]["type"], "string");
            EXPECT_GT(t["queueCapacity"].get<int>(), 0);
        }
    }
    EXPECT_TRUE(found);
}
