// Idempotency-Key semantics: protocol.md "Submit" and conformance 5.2.
#include "support/daemon_test.hpp"

#include <thread>

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {
class idempotency : public daemon_test {
   protected:
    size_t jobs_with_key(const std::string& key) {
        return d.get("/v1/jobs?idempotencyKey=" + key).json()["jobs"].size();
    }
};
}  // namespace

TEST_F(idempotency, identical_retry_replays_the_same_job) {
    const std::string body = R"({"type":"sleep","input":{"delayMs":50}})";
    auto first = d.post("/v1/jobs", body, {{"Idempotency-Key", "\"k-1\""}});
    auto second = d.post("/v1/jobs", body, {{"Idempotency-Key", "\"k-1\""}});
    ASSERT_EQ(first.status, 202u);
    ASSERT_EQ(second.status, 202u);
    EXPECT_FALSE(first.header("Idempotent-Replayed").has_value());
    EXPECT_EQ(second.header("Idempotent-Replayed"), "true");
    EXPECT_EQ(first.header("Location"), second.header("Location"));
    EXPECT_EQ(jobs_with_key("k-1"), 1u);
    EXPECT_EQ(first.json()["idempotencyKey"], "k-1");
}

TEST_F(idempotency, key_order_and_whitespace_do_not_matter) {
    auto a = d.post("/v1/jobs", R"({"type":"sleep","input":{"delayMs":1,"text":"x"}})", {{"Idempotency-Key", "k-2"}});
    auto b = d.post("/v1/jobs", "{ \"input\" : { \"text\":\"x\", \"delayMs\":1 },\n \"type\":\"sleep\" }",
                    {{"Idempotency-Key", "k-2"}});
    EXPECT_EQ(b.status, 202u);
    EXPECT_EQ(b.header("Idempotent-Replayed"), "true");
    EXPECT_EQ(a.header("Location"), b.header("Location"));
}

TEST_F(idempotency, different_body_type_or_query_is_422_with_the_job_id) {
    auto a = d.submit("sleep", {{"delayMs", 1}}, {{"Idempotency-Key", "k-3"}});
    const std::string id = a.json()["id"];
    auto body = d.submit("sleep", {{"delayMs", 2}}, {{"Idempotency-Key", "k-3"}});
    expect_problem(body, 422, "idempotency-key-reused");
    EXPECT_EQ(body.json()["jobId"], id);
    expect_problem(d.submit("hello", {{"delayMs", 1}}, {{"Idempotency-Key", "k-3"}}), 422, "idempotency-key-reused");
    auto query = d.post("/v1/jobs?foo=1", R"({"type":"sleep","input":{"delayMs":1}})", {{"Idempotency-Key", "k-3"}});
    expect_problem(query, 422, "idempotency-key-reused");
    EXPECT_EQ(jobs_with_key("k-3"), 1u);
}

TEST_F(idempotency, prefer_accept_and_traceparent_are_not_in_the_fingerprint) {
    auto a = d.submit("sleep", {{"delayMs", 1}}, {{"Idempotency-Key", "k-4"}});
    auto b = d.submit("sleep", {{"delayMs", 1}},
                      {{"Idempotency-Key", "k-4"}, {"Prefer", "wait=1"}, {"Accept", "application/json"},
                       {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}});
    EXPECT_EQ(b.status, 202u);
    EXPECT_EQ(b.header("Idempotent-Replayed"), "true");
}

TEST_F(idempotency, concurrent_identical_posts_create_exactly_one_job) {
    constexpr int clients = 16;
    std::vector<http_result> results(clients);
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i) {
        threads.emplace_back([&, i] { results[i] = d.submit("sleep", {{"delayMs", 1}}, {{"Idempotency-Key", "k-race"}}); });
    }
    for (auto& t : threads) t.join();
    std::set<std::string> locations;
    for (const auto& r : results) {
        if (r.status == 202) {
            locations.insert(r.header("Location").value_or(""));
        } else {
            expect_problem(r, 409, "idempotency-request-in-progress");
            EXPECT_TRUE(r.header("Retry-After").has_value());
        }
    }
    EXPECT_EQ(locations.size(), 1u);
    EXPECT_EQ(jobs_with_key("k-race"), 1u);
}

TEST_F(idempotency, replay_after_success_or_failure_returns_the_terminal_doc_without_rerunning) {
    auto ok = d.submit("sleep", {{"delayMs", 1}}, {{"Idempotency-Key", "k-5"}});
    d.wait_terminal(ok.json()["id"]);
    auto replay = d.submit("sleep", {{"delayMs", 1}}, {{"Idempotency-Key", "k-5"}});
    EXPECT_EQ(replay.status, 202u);
    EXPECT_EQ(replay.header("Idempotent-Replayed"), "true");
    EXPECT_EQ(replay.json()["status"], "succeeded");
    EXPECT_FALSE(replay.header("Retry-After").has_value());

    auto bad = d.submit("fail", {}, {{"Idempotency-Key", "k-6"}});
    const auto failed = d.wait_terminal(bad.json()["id"]);
    auto again = d.submit("fail", {}, {{"Idempotency-Key", "k-6"}});
    EXPECT_EQ(again.status, 202u);
    EXPECT_EQ(again.json()["status"], "failed");
    EXPECT_EQ(again.json()["finishedAt"], failed["finishedAt"]);
    EXPECT_EQ(again.json()["attempt"], 1);
}

TEST_F(idempotency, rejected_requests_do_not_bind_the_key) {
    expect_problem(d.submit("hello", {{"name", 1}}, {{"Idempotency-Key", "k-7"}}), 400, "invalid-request");
    auto fixed = d.submit("hello", {{"name", "ok"}}, {{"Idempotency-Key", "k-7"}});
    EXPECT_EQ(fixed.status, 202u);
    EXPECT_FALSE(fixed.header("Idempotent-Replayed").has_value());
}

TEST_F(idempotency, key_format_is_enforced) {
    EXPECT_EQ(d.submit("hello", {}, {{"Idempotency-Key", std::string(255, 'a')}}).status, 202u);
    expect_problem(d.submit("hello", {}, {{"Idempotency-Key", std::string(256, 'a')}}), 400, "idempotency-key-invalid");
    expect_problem(d.submit("hello", {}, {{"Idempotency-Key", "\"\""}}), 400, "idempotency-key-invalid");
    expect_problem(d.submit("hello", {}, {{"Idempotency-Key", "caf\xc3\xa9"}}), 400, "idempotency-key-invalid");
    expect_problem(d.submit("hello", {}, {{"Idempotency-Key", "a"}, {"Idempotency-Key", "a"}}), 400,
                   "idempotency-key-invalid");
}

TEST_F(idempotency, quoted_and_bare_keys_are_the_same_key) {
    auto a = d.submit("hello", {}, {{"Idempotency-Key", "\"same\""}});
    auto b = d.submit("hello", {}, {{"Idempotency-Key", "same"}});
    EXPECT_EQ(b.header("Idempotent-Replayed"), "true");
    EXPECT_EQ(a.header("Location"), b.header("Location"));
}

TEST_F(idempotency, without_a_key_identical_posts_create_two_jobs) {
    auto a = d.submit("hello");
    auto b = d.submit("hello");
    EXPECT_NE(a.json()["id"], b.json()["id"]);
}

TEST_F(idempotency, after_delete_the_key_answers_409_or_422_never_a_new_job) {
    auto a = d.submit("sleep", {{"delayMs", 1}}, {{"Idempotency-Key", "k-8"}});
    const std::string id = a.json()["id"];
    d.wait_terminal(id);
    EXPECT_EQ(d.del("/v1/jobs/" + id).status, 204u);
    expect_problem(d.submit("sleep", {{"delayMs", 1}}, {{"Idempotency-Key", "k-8"}}), 409, "idempotency-key-job-deleted");
    expect_problem(d.submit("sleep", {{"delayMs", 2}}, {{"Idempotency-Key", "k-8"}}), 422, "idempotency-key-reused");
}

TEST_F(idempotency, list_by_key_finds_exactly_the_bound_job) {
    auto a = d.submit("hello", {}, {{"Idempotency-Key", "k-9"}});
    d.submit("hello", {}, {{"Idempotency-Key", "k-10"}});
    const auto jobs = d.get("/v1/jobs?idempotencyKey=k-9").json()["jobs"];
    ASSERT_EQ(jobs.size(), 1u);
    EXPECT_EQ(jobs[0]["id"], a.json()["id"]);
}

namespace {
daemon_config_text key_required() {
    daemon_config_text c;
    c.top = "idempotency:\n  required: true\n";
    return c;
}
class idempotency_required : public daemon_test_with<key_required> {};
}  // namespace

TEST_F(idempotency_required, a_missing_key_is_400_with_a_type_url) {
    auto r = d.submit("hello");
    expect_problem(r, 400, "idempotency-key-missing");
    EXPECT_EQ(d.submit("hello", {}, {{"Idempotency-Key", "present"}}).status, 202u);
}

namespace {
daemon_config_text short_key_ttl() {
    daemon_config_text c;
    c.top = "allow_short_retention: true\nidempotency:\n  ttl: 300ms\n";
    c.jobs += "  tombstone_ttl: 200ms\n  purge_interval: 50ms\n";
    c.job_types["sleep.yaml"] = "type: sleep\nplugin: @FIXTURES@/sleep.so\nworkers: 2\nretention: 200ms\n";
    return c;
}
class idempotency_expiry : public daemon_test_with<short_key_ttl> {};
}  // namespace

TEST_F(idempotency_expiry, after_the_key_and_its_job_expire_the_key_makes_a_new_job) {
    auto a = d.submit("sleep", {{"delayMs", 1}}, {{"Idempotency-Key", "k-old"}});
    const std::string first = a.json()["id"];
    // The job expires, then its tombstone, then the key: a new job comes from the key.
    std::string second;
    ASSERT_TRUE(eventually(
        [&] {
            auto r = d.submit("sleep", {{"delayMs", 1}}, {{"Idempotency-Key", "k-old"}});
            if (r.status == 202 && !r.header("Idempotent-Replayed")) second = r.json()["id"];
            return !second.empty();
        },
        20s));
    EXPECT_NE(first, second);
}
