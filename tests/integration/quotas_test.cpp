// Per-principal limits against the real binary: fair queues (one principal's backlog does
// not hold another's job back, across a restart too), the submit rate limit with its
// RateLimit fields, and the quotas on live jobs, priority and upload bytes.
#include "support/daemon_test.hpp"

#include <optional>

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {

daemon_config_text quota_config(const std::string& quotas) {
    daemon_config_text c;
    c.top = "auth:\n  mode: api_keys\n  keys_file: keys.yaml\n" + quotas;
    c.job_types["sleep.yaml"] = "type: sleep\nplugin: @FIXTURES@/sleep.so\nworkers: 4\nqueue_capacity: 20000\n";
    return c;
}

const std::vector<std::string> tenant = {"jobs:submit", "jobs:read", "jobs:cancel", "uploads:write", "uploads:read"};

// From being accepted to starting, by the job's own document.
int64_t start_delay_ms(const daemon_process& d, const std::string& id, const header_list& as) {
    nlohmann::json doc;
    EXPECT_TRUE(eventually([&] {
        doc = d.get("/v1/jobs/" + id + "?redirect=false", as).json();
        return doc.value("startedAt", nlohmann::json()).is_string();
    }, 60s)) << doc.dump();
    return unix_ms_of(doc.value("startedAt", "")) - unix_ms_of(doc.value("createdAt", ""));
}

}  // namespace

// A's 5,000 jobs of 20 ms on 4 workers (25 s of work) are queued; B's one job starts
// within about one job's duration, not after A's backlog; and again after a restart.
TEST(fair_queues, another_principal_s_job_starts_within_a_job_duration_of_a_flood) {
    daemon_process d(quota_config(""));
    const auto a = bearer(create_api_key(d, "flood", tenant));
    const auto b = bearer(create_api_key(d, "other", tenant));
    d.start();
    const nlohmann::json twenty_ms = {{"delayMs", 20}};
    for (int i = 0; i < 5000; ++i) ASSERT_EQ(d.submit("sleep", twenty_ms, a).status, 202u) << i;
    auto backlog = [&] {
        const auto listed = d.get("/v1/jobs?status=queued&limit=1", a);
        return listed.status == 200 && !listed.member("jobs").empty();
    };
    ASSERT_TRUE(backlog()) << "A's flood is still queued";
    const auto mine = d.submit("sleep", twenty_ms, b);
    ASSERT_EQ(mine.status, 202u) << mine.body;
    const int64_t waited = start_delay_ms(d, mine.member("id"), b);
    std::cout << "fair_queues: B's job started " << waited << " ms after it was accepted, behind 5,000 of A's\n";
    EXPECT_LT(waited, 250) << "about one job duration (20 ms), not A's backlog (tens of seconds)";

    // A restart rebuilds the lanes from the store: A's backlog is queued again, B still
    // goes next.
    ASSERT_EQ(d.stop(), 0);
    d.start();
    ASSERT_TRUE(backlog()) << "A's backlog survived the restart";
    const auto again = d.submit("sleep", twenty_ms, b);
    ASSERT_EQ(again.status, 202u) << again.body;
    const int64_t after_restart = start_delay_ms(d, again.member("id"), b);
    std::cout << "fair_queues: after a restart, " << after_restart << " ms\n";
    EXPECT_LT(after_restart, 250);
}

TEST(quotas, submits_past_the_rate_are_refused_with_the_ratelimit_fields) {
    daemon_process d(quota_config("quotas:\n  principals:\n    slow:\n      submit_rate: 1/m\n      submit_burst: 2\n"));
    const auto slow = bearer(create_api_key(d, "slow", tenant));
    const auto free = bearer(create_api_key(d, "free", tenant));
    const auto ops = bearer(create_api_key(d, "ops", {"metrics:read"}));
    d.start();
    const auto first = d.submit("hello", {{"name", "a"}}, slow);
    ASSERT_EQ(first.status, 202u) << first.body;
    EXPECT_EQ(first.header("RateLimit-Policy"), R"("submit";q=2;w=120)");
    EXPECT_EQ(first.header("RateLimit"), R"("submit";r=1;t=60)");
    EXPECT_EQ(d.submit("hello", {{"name", "b"}}, slow).status, 202u);
    const size_t jobs_before = d.get("/v1/jobs", slow).member("jobs").size();
    const auto refused = d.submit("hello", {{"name", "c"}}, slow);
    expect_problem(refused, 429, "rate-limited");
    EXPECT_EQ(refused.header("Retry-After"), "60");
    EXPECT_EQ(refused.header("RateLimit"), R"("submit";r=0;t=120)");
    EXPECT_EQ(d.get("/v1/jobs", slow).member("jobs").size(), jobs_before) << "nothing stored for a refused submit";
    // Other principals, and other routes, are not limited.
    for (int i = 0; i < 5; ++i) EXPECT_EQ(d.submit("hello", {{"name", "f"}}, free).status, 202u);
    EXPECT_FALSE(d.submit("hello", {{"name", "f"}}, free).header("RateLimit"));
    EXPECT_EQ(d.get("/v1/jobs", slow).status, 200u);
    // A reload applies a new rate at once.
    d.replace_in_config("submit_rate: 1/m", "submit_rate: 100/s");
    d.signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return d.log_count("reload: applied") == 1; })) << d.log();
    EXPECT_EQ(d.submit("hello", {{"name", "d"}}, slow).status, 202u);
    const auto metrics = d.get("/metrics", ops);
    EXPECT_NE(metrics.body.find("ticketd_principal_live_jobs{principal=\"slow\"}"), std::string::npos);
    EXPECT_EQ(metrics.body.find("principal=\"free\""), std::string::npos) << "only configured principals are labels";
    EXPECT_NE(metrics.body.find("ticketd_principal_rejections_total{principal=\"slow\",reason=\"rate_limited\"} 1"),
              std::string::npos)
        << metrics.body.substr(0, 2000);
}

TEST(quotas, live_jobs_priority_and_upload_bytes_are_bounded_per_principal) {
    daemon_process d(quota_config("quotas:\n  default:\n    max_live_jobs: 2\n    max_priority: 10\n"
                                  "    max_upload_bytes: 10KiB\n"));
    const auto a = bearer(create_api_key(d, "a", tenant));
    const auto b = bearer(create_api_key(d, "b", tenant));
    const std::string c_token = create_api_key(d, "c", tenant);
    d.start();
    const nlohmann::json long_job = {{"delayMs", 60000}};
    const auto one = d.submit("sleep", long_job, a);
    ASSERT_EQ(one.status, 202u) << one.body;
    ASSERT_EQ(d.submit("sleep", long_job, a).status, 202u);
    const auto third = d.submit("sleep", long_job, a);
    expect_problem(third, 429, "quota-exceeded");
    EXPECT_EQ(third.header("Retry-After"), "5");
    EXPECT_EQ(d.submit("sleep", long_job, b).status, 202u) << "b's quota is its own";
    // A job that ends gives its place back.
    ASSERT_EQ(d.post("/v1/jobs/" + one.member("id").get<std::string>() + "/cancel", "", a).status / 100, 2u);
    EXPECT_TRUE(eventually([&] { return d.submit("sleep", {{"delayMs", 1}}, a).status == 202u; }));

    // A priority above the maximum: 403, no retry helps.
    header_list json = b;
    json.emplace_back("Content-Type", "application/json");
    const auto urgent = d.post("/v1/jobs", R"({"type":"hello","input":{},"priority":11})", json);
    expect_problem(urgent, 403, "quota-exceeded");
    EXPECT_EQ(urgent.json()["errors"][0]["pointer"], "/priority");
    EXPECT_NE(d.post("/v1/jobs", R"({"type":"hello","input":{},"priority":10})", json).status, 403u);

    // Uploads: 10 KiB held at most; one larger than that is 403, one that does not fit now 429.
    header_list upload = b;
    upload.emplace_back("Content-Type", "application/octet-stream");
    ASSERT_EQ(d.post("/v1/uploads", std::string(8 << 10, 'x'), upload).status, 201u);
    const auto full = d.post("/v1/uploads", std::string(4 << 10, 'x'), upload);
    expect_problem(full, 429, "quota-exceeded");
    EXPECT_TRUE(full.header("Retry-After"));
    expect_problem(d.post("/v1/uploads", std::string(11 << 10, 'x'), upload), 403, "quota-exceeded");
    EXPECT_EQ(d.post("/v1/uploads", std::string(2 << 10, 'x'), upload).status, 201u) << "what is left still fits";
    EXPECT_EQ(d.post("/v1/uploads", std::string(8 << 10, 'x'), [&] {
                  header_list h = a;
                  h.emplace_back("Content-Type", "application/octet-stream");
                  return h;
              }()).status,
              201u)
        << "a's uploads are counted apart";

    // An upload still arriving holds its length: another at the same time does not fit.
    // (The probe asks first, Expect: 100-continue, and never sends its body: it stores nothing.)
    const std::string head = "POST /v1/uploads HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + c_token +
                             "\r\nContent-Type: application/octet-stream\r\n";
    auto probe = [&] {
        raw_connection p(d.port());
        p.send(head + "Expect: 100-continue\r\nContent-Length: 4096\r\n\r\n");
        return p.read_some(12, 10s);  // "HTTP/1.1 100" (it fits) or "HTTP/1.1 429"
    };
    ASSERT_EQ(probe(), "HTTP/1.1 100") << "4 KiB fit while nothing arrives";
    {
        // The arriving upload asks first too, so the test knows it holds its 8 KiB: the
        // first probe's 4 KiB go back only when the daemon notices that probe hang up.
        std::optional<raw_connection> arriving;
        ASSERT_TRUE(eventually([&] {
            arriving.emplace(d.port());
            arriving->send(head + "Expect: 100-continue\r\nContent-Length: 8192\r\n\r\n");
            return arriving->read_some(12, 10s) == "HTTP/1.1 100";
        }));
        ASSERT_TRUE(arriving->send(std::string(100, 'x')));
        EXPECT_EQ(probe(), "HTTP/1.1 429") << "8 KiB arriving + 4 KiB > 10 KiB";
    }
    EXPECT_TRUE(eventually([&] { return probe() == "HTTP/1.1 100"; }))
        << "the abandoned upload gave its reservation back";
}
