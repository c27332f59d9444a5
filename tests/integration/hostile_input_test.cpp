// Hostile input that used to end the process or slip through: malformed UTF-8 anywhere a
// client's text could be echoed, JSON nested deep enough to overflow a recursive walk, and
// numbers past 2^63. Each answer is a well-formed problem; each test ends with the daemon
// healthy and a job submitted before the attack succeeding.
#include "support/daemon_test.hpp"

#include <thread>

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {

class hostile_input : public daemon_test {
   protected:
    void SetUp() override {
        daemon_test::SetUp();
        before_ = submit_id("sleep", {{"delayMs", 300}});
    }
    void TearDown() override {
        EXPECT_EQ(d.get("/healthz").status, 200u) << "the daemon did not survive";
        EXPECT_EQ(d.wait_terminal(before_).value("status", ""), "succeeded");
        daemon_test::TearDown();
    }
    // The problem must be JSON that parses: a malformed byte may not reach the document.
    static void expect_parsable_problem(const http_result& r, unsigned status, const std::string& code) {
        expect_problem(r, status, code);
        EXPECT_FALSE(nlohmann::json::parse(r.body, nullptr, false).is_discarded()) << r.body;
    }
    std::string before_;
};

// {"type": "sleep", "input": {"a": [[[ ... ]]]}} with `arrays` nested arrays.
std::string nested_input(size_t arrays) {
    return R"({"type":"sleep","input":{"a":)" + std::string(arrays, '[') + std::string(arrays, ']') + "}}";
}

}  // namespace

TEST_F(hostile_input, invalid_utf8_in_the_path_is_400_not_a_crash) {
    expect_parsable_problem(d.get("/v1/jobs/%FF"), 400, "invalid-request");
    expect_parsable_problem(d.get("/v1/jobs/%C3%28/result"), 400, "invalid-request");
    expect_parsable_problem(d.get("/nowhere/%ED%A0%80"), 400, "invalid-request");  // a surrogate
    expect_parsable_problem(d.get("/v1/uploads/%F4%90%80%80"), 400, "invalid-request");  // past U+10FFFF
    // Raw bytes, not percent-encoded.
    raw_connection c(d.port());
    ASSERT_TRUE(c.send("GET /v1/jobs/\xFF\xFE HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    const std::string answer = c.read_until_close(20s);
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
    // Well-formed UTF-8 that names nothing is an ordinary 404.
    expect_problem(d.get("/v1/jobs/%C3%A9"), 404, "job-not-found");
}

TEST_F(hostile_input, invalid_utf8_in_the_query_is_400) {
    expect_parsable_problem(d.get("/v1/jobs?status=%FF"), 400, "invalid-request");
    expect_parsable_problem(d.get("/v1/jobs?%FF=1"), 400, "invalid-request");
    expect_parsable_problem(d.get("/v1/jobs?pageToken=%80abc"), 400, "invalid-request");
}

TEST_F(hostile_input, invalid_utf8_in_header_values_is_never_echoed_raw) {
    auto r = d.post("/v1/uploads", "x", {{"Content-Type", "text/\xFF\xFEplain"}});
    expect_parsable_problem(r, 400, "invalid-request");
    r = d.post("/v1/jobs", R"({"type":"sleep"})", {{"Content-Type", "application/\xC3\x28json"}});
    expect_parsable_problem(r, 415, "unsupported-media-type");
    r = d.post("/v1/jobs", R"({"type":"sleep"})", {{"Idempotency-Key", "\"\xFF\""}});
    expect_parsable_problem(r, 400, "idempotency-key-invalid");
    r = d.get("/v1/jobs/" + before_, {{"Prefer", "wait=\xFF"}, {"If-None-Match", "\"\xFF\""}});
    EXPECT_EQ(r.status / 100, 2u) << r.body;  // ignored, as any malformed preference is
}

TEST_F(hostile_input, json_nested_past_the_limit_is_400_with_a_pointer) {
    // 200,000 levels: 400 KB, well under max_body_bytes; a recursive walk would overflow.
    auto r = d.post("/v1/jobs", nested_input(200'000));
    expect_parsable_problem(r, 400, "invalid-request");
    const auto errors = r.json()["errors"];
    ASSERT_EQ(errors.size(), 1u) << r.body;
    // The root object and "input" are two levels; "a" opens 62 more before the limit of 64.
    std::string pointer = "/input/a";
    for (int i = 0; i < 62; ++i) pointer += "/0";
    EXPECT_EQ(errors[0].value("pointer", ""), pointer);
    EXPECT_NE(errors[0].value("detail", "").find("64 levels"), std::string::npos) << r.body;
    // Nothing was stored.
    EXPECT_EQ(d.get("/v1/jobs?type=sleep").json()["jobs"].size(), 1u);
}

TEST_F(hostile_input, json_at_the_depth_limit_is_parsed) {
    // 64 levels in all: not refused for its depth (the sleep type's schema may still refuse
    // its input; then the pointer names the schema's complaint, not the depth).
    auto r = d.post("/v1/jobs", nested_input(62));
    if (r.status == 400) {
        EXPECT_EQ(r.body.find("levels"), std::string::npos) << r.body;
    } else {
        EXPECT_EQ(r.status, 202u) << r.body;
    }
    expect_parsable_problem(d.post("/v1/jobs", nested_input(63)), 400, "invalid-request");
}

TEST_F(hostile_input, numbers_out_of_range_are_400_never_wrapped) {
    for (const char* priority : {"18446744073709551615", "9223372036854775808", "1001", "-1001", "1.5"}) {
        auto r = d.post("/v1/jobs", std::string(R"({"type":"sleep","priority":)") + priority + "}");
        expect_parsable_problem(r, 400, "invalid-request");
        EXPECT_EQ(r.json()["errors"][0].value("pointer", ""), "/priority") << priority;
    }
    for (const char* timeout : {"-5", "0", "18446744073709551615", "31536001"}) {
        auto r = d.post("/v1/jobs", std::string(R"({"type":"sleep","timeoutSeconds":)") + timeout + "}");
        expect_parsable_problem(r, 400, "invalid-request");
        EXPECT_EQ(r.json()["errors"][0].value("pointer", ""), "/timeoutSeconds") << timeout;
    }
    // A number JSON cannot hold: not valid JSON, said so.
    expect_parsable_problem(d.post("/v1/jobs", R"({"type":"sleep","priority":1e400})"), 400, "invalid-request");
    expect_parsable_problem(d.get("/v1/jobs/" + before_ + "?wait=1e400"), 400, "invalid-wait");
    expect_parsable_problem(d.get("/v1/jobs/" + before_ + "?wait=99999999999999999999"), 400, "invalid-wait");
    expect_parsable_problem(d.get("/v1/jobs/" + before_ + "?wait=-1"), 400, "invalid-wait");
    // In range at both ends: accepted.
    EXPECT_EQ(d.post("/v1/jobs", R"({"type":"sleep","priority":1000,"input":{"delayMs":1}})").status, 202u);
    EXPECT_EQ(d.post("/v1/jobs", R"({"type":"sleep","priority":-1000,"input":{"delayMs":1}})").status, 202u);
}
