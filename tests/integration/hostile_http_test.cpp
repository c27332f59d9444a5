// HTTP that a hostile client cannot use to exhaust or confuse the daemon: chunk-extension
// and trailer floods (Beast 1.81 bounds neither), every request-smuggling framing, one
// address holding thousands of connections, bodies that trickle, a slow reader of a large
// result, many large bodies at once, pipelined garbage and header floods. Each test ends
// with /healthz answering and a job submitted before the attack succeeding; where the
// attack is on memory, the daemon's RSS is checked.
#include "support/daemon_test.hpp"

#include <sys/resource.h>

#include <fstream>
#include <memory>
#include <thread>

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {

// The daemon's resident memory, from /proc.
size_t rss_bytes(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    }
    return 0;
}

std::string first_status_line(const std::string& answer) { return answer.substr(0, answer.find("\r\n")); }

size_t count_of(const std::string& haystack, const std::string& needle) {
    size_t n = 0;
    for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
    return n;
}

daemon_config_text hostile_config() {
    daemon_config_text c;
    c.server =
        "  max_connections_per_client: 64\n"
        "  request_timeout: 5s\n"
        "  write_timeout: 2s\n";
    c.top = "uploads:\n  max_bytes: 64MiB\n";
    return c;
}

// A daemon with `Make`'s config that must come through each test: a job submitted before
// the attack succeeds, and /healthz answers after it.
template <daemon_config_text (*Make)()>
class survives : public daemon_test_with<Make> {
   protected:
    void SetUp() override {
        daemon_test::SetUp();
        before_ = this->submit_id("sleep", {{"delayMs", 300}});
    }
    void TearDown() override {
        EXPECT_EQ(this->d.get("/healthz").status, 200u) << "the daemon did not survive";
        EXPECT_EQ(this->d.wait_terminal(before_).value("status", ""), "succeeded");
        daemon_test::TearDown();
    }
    std::string before_;
};

class hostile_http : public survives<hostile_config> {
   protected:
    // Sends `head`, then `filler` over and over (up to `most` bytes) until the daemon closes
    // the connection; returns what it answered.
    std::string flood(const std::string& head, const std::string& filler, size_t most) {
        raw_connection c(d.port());
        EXPECT_TRUE(c.send(head));
        for (size_t sent = 0; sent < most && c.send(filler); sent += filler.size()) {
        }
        return c.read_until_close(20s);
    }
};

}  // namespace

TEST_F(hostile_http, an_endless_chunk_extension_is_cut_with_memory_flat) {
    const size_t rss_before = rss_bytes(d.pid());
    const std::string filler(64 * 1024, 'e');
    for (const char* target : {"/v1/jobs", "/v1/uploads"}) {
        const std::string head = std::string("POST ") + target +
                                 " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                 "Transfer-Encoding: chunked\r\n\r\n1;ext=";
        const std::string answer = flood(head, filler, 256u << 20);  // 256 MiB if never cut
        EXPECT_EQ(first_status_line(answer), "HTTP/1.1 400 Bad Request") << target;
        EXPECT_NE(answer.find("chunk-size line"), std::string::npos) << answer;
    }
    EXPECT_LT(rss_bytes(d.pid()), rss_before + (32u << 20)) << "RSS grew with the flood";
}

TEST_F(hostile_http, an_endless_trailer_is_cut_with_memory_flat) {
    const size_t rss_before = rss_bytes(d.pid());
    std::string filler;
    while (filler.size() < 64 * 1024) filler += "X-Trailer-Field: some value\r\n";
    const std::string head =
        "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2\r\n{}\r\n0\r\n";
    const std::string answer = flood(head, filler, 256u << 20);
    EXPECT_EQ(first_status_line(answer), "HTTP/1.1 400 Bad Request") << answer.substr(0, 300);
    EXPECT_LT(rss_bytes(d.pid()), rss_before + (32u << 20));
}

TEST_F(hostile_http, every_smuggling_framing_is_400_and_closes_the_connection) {
    // Each carries a second request in what a lenient reader would take as its body: the
    // daemon must answer one 400 and close, never answer the smuggled GET.
    const std::string smuggled = "GET /v1/job-types HTTP/1.1\r\nHost: x\r\n\r\n";
    const std::string body = "5\r\nhello\r\n0\r\n\r\n" + smuggled;
    const std::vector<std::string> framings = {
        "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: chunked, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: identity\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
        "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
        "Content-Length: 3\r\nContent-Length: 3\r\n",
        "Content-Length: 3\r\nContent-Length: 30\r\n",
        "Content-Length: 3, 3\r\n",
        "Content-Length: +3\r\n",
        "Content-Length: 0x3\r\n",
        "Transfer-Encoding: xchunked\r\n",
        "Transfer-Encoding : chunked\r\n",
    };
    for (const auto& framing : framings) {
        raw_connection c(d.port());
        ASSERT_TRUE(c.send("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + framing +
                           "\r\n" + body));
        const std::string answer = c.read_until_close(20s);
        EXPECT_EQ(first_status_line(answer), "HTTP/1.1 400 Bad Request") << framing;
        EXPECT_EQ(count_of(answer, "HTTP/1.1 "), 1u) << framing << answer;
    }
    // HTTP/1.0 cannot carry Transfer-Encoding at all (RFC 9112 6.1).
    raw_connection c(d.port());
    ASSERT_TRUE(c.send("POST /v1/jobs HTTP/1.0\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                       body));
    EXPECT_EQ(first_status_line(c.read_until_close(20s)).substr(9, 3), "400");
    // A well-framed chunked submit still works.
    raw_connection ok(d.port());
    ASSERT_TRUE(ok.send("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                        "10\r\n{\"type\":\"sleep\"}\r\n0\r\n\r\n"));
    EXPECT_EQ(first_status_line(ok.read_until_close(20s)), "HTTP/1.1 202 Accepted");
}

TEST_F(hostile_http, thousands_of_idle_connections_from_one_address_do_not_lock_out_another) {
    // 5,000 descriptors here: as many as the hard limit allows.
    rlimit files{};
    ::getrlimit(RLIMIT_NOFILE, &files);
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
    const int count = static_cast<int>(std::min<rlim_t>(5000, files.rlim_cur - 200));
    ASSERT_GT(count, 200) << "RLIMIT_NOFILE is too low for this test";
    std::vector<std::unique_ptr<raw_connection>> idle;
    for (int i = 0; i < count; ++i) idle.push_back(std::make_unique<raw_connection>(d.port(), "127.0.0.1"));
    // Past the per-address cap (64 here), each is answered 503 and closed at once.
    EXPECT_EQ(first_status_line(idle.back()->read_until_close(20s)), "HTTP/1.1 503 Service Unavailable");
    // Another address is served, on a connection of its own.
    raw_connection other(d.port(), "127.0.0.2");
    ASSERT_TRUE(other.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    EXPECT_EQ(first_status_line(other.read_until_close(20s)), "HTTP/1.1 200 OK");
    idle.clear();
    // Once they are gone, that address is served again.
    EXPECT_TRUE(eventually([&] { return d.get("/healthz").status == 200; }, 20s));
}

TEST_F(hostile_http, pipelined_garbage_is_answered_400_after_the_good_requests) {
    raw_connection c(d.port());
    ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                       "\x01\x02 garbage \xFF\xFE\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    const std::string answer = c.read_until_close(20s);
    EXPECT_EQ(count_of(answer, "HTTP/1.1 200 OK"), 2u) << answer;
    EXPECT_EQ(count_of(answer, "HTTP/1.1 400 Bad Request"), 1u) << answer;
}

TEST_F(hostile_http, thousands_of_header_fields_are_431) {
    std::string fields;
    for (int i = 0; i < 5000; ++i) fields += "X-F" + std::to_string(i) + ": v\r\n";
    raw_connection c(d.port());
    c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n");
    EXPECT_EQ(first_status_line(c.read_until_close(20s)), "HTTP/1.1 431 Request Header Fields Too Large");
}

TEST_F(hostile_http, a_body_that_stops_midway_frees_its_connection) {
    {
        raw_connection c(d.port());
        ASSERT_TRUE(c.send("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Content-Length: 1000\r\n\r\n{\"type\":"));
    }  // the client goes away
    EXPECT_TRUE(eventually([&] { return d.get("/healthz").status == 200; }, 20s));
    EXPECT_EQ(d.get("/v1/jobs?type=sleep").json()["jobs"].size(), 1u);  // nothing stored
}

TEST_F(hostile_http, a_slow_reader_of_a_large_result_gets_all_of_it) {
    // 24 MiB, read at about 2 MiB/s: 12 s in all, well past request_timeout (5 s) and
    // write_timeout (2 s); each write still progresses within write_timeout.
    const std::string bytes(24u << 20, 'r');
    const auto up = d.upload(bytes);
    ASSERT_EQ(up.status, 201u) << up.body;
    const auto job = d.post("/v1/jobs", nlohmann::json{{"type", "sleep"},
                                                       {"input", {{"copyFile", "source"}, {"delayMs", 1}}},
                                                       {"files", {{"source", up.json()["id"]}}}}
                                            .dump());
    ASSERT_EQ(job.status, 202u) << job.body;
    const std::string id = job.json()["id"];
    ASSERT_EQ(d.wait_terminal(id).value("status", ""), "succeeded");
    raw_connection c(d.port());
    ASSERT_TRUE(c.send("GET /v1/jobs/" + id + "/result HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    size_t received = 0;
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
        const std::string piece = c.read_some(64 * 1024, 20s);
        if (piece.empty()) break;
        received += piece.size();
        // Paced by the clock, not slept: about 2 MiB per second.
        const auto due = start + std::chrono::milliseconds(received * 1000 / (2u << 20));
        std::this_thread::sleep_until(due);
    }
    EXPECT_GT(received, bytes.size());  // the body and its header
    EXPECT_GT(std::chrono::steady_clock::now() - start, 6s);
}

namespace {
daemon_config_text slow_body_config() {
    daemon_config_text c;
    c.server =
        "  request_timeout: 2s\n"
        "  min_body_rate: 1KiB\n";
    c.top = "uploads:\n  max_bytes: 64MiB\n";
    return c;
}
class slow_bodies : public survives<slow_body_config> {};

daemon_config_text small_body_budget() {
    daemon_config_text c;
    c.server =
        "  max_body_bytes: 512KiB\n"
        "  max_body_memory: 1MiB\n";
    return c;
}
class body_budget : public survives<small_body_budget> {};
}  // namespace

TEST_F(slow_bodies, an_upload_that_trickles_is_cut_once_it_falls_below_the_minimum_rate) {
    raw_connection c(d.port());
    ASSERT_TRUE(c.send("POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"));
    const auto start = std::chrono::steady_clock::now();
    bool closed = false;
    // A byte every 500 ms: each read is within request_timeout, but the average is ~2 B/s.
    for (int i = 0; i < 120 && !closed; ++i) closed = !c.send("x") || c.closed_by_peer(500ms);
    EXPECT_TRUE(closed || c.closed_by_peer(10s));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);  // uncut, it would trickle for 60 s
    EXPECT_EQ(d.get("/healthz").status, 200u);
}

TEST_F(slow_bodies, an_upload_above_the_minimum_rate_completes_however_long_it_takes) {
    // 64 KiB in 4 KiB pieces every 250 ms: 16 KiB/s, for 4 s, twice request_timeout.
    raw_connection c(d.port());
    const size_t total = 64 * 1024;
    ASSERT_TRUE(c.send("POST /v1/uploads HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
                       std::to_string(total) + "\r\n\r\n"));
    const auto start = std::chrono::steady_clock::now();
    for (size_t sent = 0, i = 1; sent < total; sent += 4096, ++i) {
        ASSERT_TRUE(c.send(std::string(4096, 'u')));
        std::this_thread::sleep_until(start + i * 250ms);
    }
    EXPECT_EQ(first_status_line(c.read_until_close(20s)), "HTTP/1.1 201 Created");
}

TEST_F(body_budget, many_large_bodies_at_once_share_a_memory_budget) {
    // Two bodies of 400 KiB are under way (800 KiB reserved of 1 MiB): a third is refused
    // at once, before it is read. Each asks to continue: its "100 Continue" comes once
    // its reservation is made, so the third is sent only after both are in place.
    const std::string head =
        "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
        "Expect: 100-continue\r\nContent-Length: 409600\r\n\r\n";
    auto continued = [](raw_connection& c) {
        std::string got;
        return eventually([&] {
            got += c.read_some(4096, 100ms);
            return got.find("100 Continue\r\n\r\n") != std::string::npos;
        }, 20s);
    };
    raw_connection a(d.port()), b(d.port());
    ASSERT_TRUE(a.send(head));
    ASSERT_TRUE(continued(a));
    ASSERT_TRUE(b.send(head));
    ASSERT_TRUE(continued(b));
    raw_connection third(d.port());
    ASSERT_TRUE(third.send(head));
    EXPECT_EQ(first_status_line(third.read_until_close(20s)), "HTTP/1.1 503 Service Unavailable");
    // A request without a body takes nothing from the budget: it is served meanwhile.
    EXPECT_EQ(d.get("/healthz").status, 200u);
    EXPECT_LT(d.get("/v1/jobs/" + before_ + "?wait=1").status, 400u);  // 200, or 303 once it is done
    // A small body still fits; and once the two are done, the budget is back.
    EXPECT_EQ(d.submit("sleep", {{"delayMs", 1}}).status, 202u);
    ASSERT_TRUE(a.send(std::string(409600, ' ')));
    ASSERT_TRUE(b.send(std::string(409600, ' ')));
    EXPECT_EQ(first_status_line(a.read_until_close(20s)), "HTTP/1.1 400 Bad Request");  // read, then not JSON
    EXPECT_EQ(first_status_line(b.read_until_close(20s)), "HTTP/1.1 400 Bad Request");
    raw_connection fourth(d.port());
    ASSERT_TRUE(fourth.send(head));
    EXPECT_TRUE(continued(fourth));
}

TEST(accept_limits, running_out_of_descriptors_backs_off_and_recovers) {
#if defined(__SANITIZE_ADDRESS__)
    // UBSan checks a polymorphic object's type by probing its vtable's memory through a
    // pipe(); with no descriptors left the probe fails and it reports an "invalid vptr"
    // on a valid object and ends the process (reproduced with a six-line program), and its
    // suppressions file is read too late to silence it. The release suite runs this test.
    GTEST_SKIP() << "UBSan's vptr check fails falsely once the process has no descriptors";
#endif
    // The daemon inherits a soft limit of 128 descriptors; 300 connections exhaust them.
    daemon_process d;
    rlimit saved{};
    ::getrlimit(RLIMIT_NOFILE, &saved);
    rlimit low = saved;
    low.rlim_cur = 128;
    ::setrlimit(RLIMIT_NOFILE, &low);
    d.start();
    ::setrlimit(RLIMIT_NOFILE, &saved);
    std::vector<std::unique_ptr<raw_connection>> held;
    for (int i = 0; i < 300; ++i) held.push_back(std::make_unique<raw_connection>(d.port()));
    ASSERT_TRUE(eventually([&] { return d.log().find("accept failed") != std::string::npos; }, 20s)) << d.log();
    held.clear();
    // Until the daemon has seen the 300 closes, this address may still count as over
    // max_connections_per_client, and a connection over a cap is shed at once (a reset).
    EXPECT_TRUE(eventually(
        [&] {
            try {
                return d.get("/healthz").status == 200;
            } catch (const std::exception&) {
                return false;
            }
        },
        20s))
        << d.log();
    EXPECT_TRUE(eventually([&] { return d.log().find("accepting connections again") != std::string::npos; }, 20s));
    // A warning per episode (the backlog, accepted once descriptors are back, may start a
    // second), not one per failed accept().
    EXPECT_LE(count_of(d.log(), "accept failed"), 3u) << d.log();
    EXPECT_EQ(d.stop(), 0);
}
