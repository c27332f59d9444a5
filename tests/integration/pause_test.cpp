// Pausing a job type through the real binary: its queued jobs wait while running ones
// finish, submits are still accepted (or, with when_paused: refuse, answered 503), the
// pause holds across a restart, and resume lets the jobs run. Admin only.
#include "support/daemon_test.hpp"

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {

daemon_config_text pause_config() {
    daemon_config_text c;
    c.top = "auth:\n  mode: api_keys\n  keys_file: keys.yaml\n";
    c.job_types["sleep.yaml"] = "type: sleep\nplugin: @FIXTURES@/sleep.so\nworkers: 1\n";
    c.job_types["strict.yaml"] = "type: strict\nplugin: @FIXTURES@/sleep.so\nwhen_paused: refuse\n";
    return c;
}

std::string status_of(const daemon_process& d, const std::string& id, const header_list& as) {
    return d.get("/v1/jobs/" + id + "?redirect=false", as).json().value("status", "");
}

nlohmann::json type_doc(const daemon_process& d, const std::string& type, const header_list& as) {
    const auto r = d.get("/v1/job-types", as);
    const auto types = r.json()["jobTypes"];
    for (const auto& t : types) {
        if (t.value("type", "") == type) return t;
    }
    ADD_FAILURE() << "no job type " << type << ": " << r.status << " " << r.body;
    return nlohmann::json::object();
}

}  // namespace

TEST(pause, a_paused_type_keeps_its_jobs_waiting_across_a_restart_until_resumed) {
    daemon_process d(pause_config());
    const auto admin = bearer(create_api_key(d, "ops", {"admin"}));
    const auto tenant = bearer(create_api_key(d, "team", {"jobs:submit", "jobs:read", "jobs:cancel"}));
    d.start();
    // A running job finishes; the ones queued behind it wait.
    const std::string running = d.submit("sleep", {{"delayMs", 1500}}, tenant).member("id");
    ASSERT_TRUE(eventually([&] { return status_of(d, running, tenant) == "running"; }));
    const auto paused = d.post("/v1/job-types/sleep/pause", "", admin);
    ASSERT_EQ(paused.status, 200u) << paused.body;
    EXPECT_EQ(paused.json().value("paused", false), true);
    const std::string waiting = d.submit("sleep", {{"delayMs", 1}}, tenant).member("id");
    EXPECT_EQ(d.wait_terminal(running, 30s, tenant).value("status", ""), "succeeded");
    EXPECT_NE(d.get("/metrics", admin).body.find("ticketd_job_type_paused{type=\"sleep\"} 1"), std::string::npos);
    EXPECT_EQ(type_doc(d, "sleep", tenant).value("paused", false), true);
    EXPECT_EQ(status_of(d, waiting, tenant), "queued");

    // Across a restart (and a kill -9) it stays paused.
    d.kill9();
    d.start();
    EXPECT_EQ(type_doc(d, "sleep", tenant).value("paused", false), true);
    const std::string another = d.submit("sleep", {{"delayMs", 1}}, tenant).member("id");
    EXPECT_EQ(status_of(d, waiting, tenant), "queued");

    const auto resumed = d.post("/v1/job-types/sleep/resume", "{}", admin);
    ASSERT_EQ(resumed.status, 200u) << resumed.body;
    EXPECT_EQ(resumed.json().value("paused", true), false);
    EXPECT_EQ(d.wait_terminal(waiting, 30s, tenant).value("status", ""), "succeeded");
    EXPECT_EQ(d.wait_terminal(another, 30s, tenant).value("status", ""), "succeeded");
    d.stop();
    d.start();
    EXPECT_EQ(type_doc(d, "sleep", tenant).value("paused", true), false) << "the resume was stored too";
}

TEST(pause, when_paused_refuse_answers_503_and_only_an_admin_may_pause) {
    daemon_process d(pause_config());
    const auto admin = bearer(create_api_key(d, "ops", {"admin"}));
    const auto tenant = bearer(create_api_key(d, "team", {"jobs:submit", "jobs:read"}));
    d.start();
    const auto denied = d.post("/v1/job-types/strict/pause", "", tenant);
    expect_problem(denied, 403, "forbidden");
    EXPECT_EQ(denied.json().value("scope", ""), "admin");
    expect_problem(d.post("/v1/job-types/strict/pause", ""), 401, "unauthenticated");
    ASSERT_EQ(d.post("/v1/job-types/strict/pause", "", admin).status, 200u);
    const auto refused = d.submit("strict", {{"delayMs", 1}}, tenant);
    expect_problem(refused, 503, "unavailable");
    EXPECT_TRUE(refused.header("Retry-After"));
    EXPECT_EQ(type_doc(d, "strict", tenant).value("whenPaused", ""), "refuse");
    EXPECT_EQ(d.submit("sleep", {{"delayMs", 1}}, tenant).status, 202u) << "other types are not paused";
    ASSERT_EQ(d.post("/v1/job-types/strict/resume", "", admin).status, 200u);
    EXPECT_EQ(d.submit("strict", {{"delayMs", 1}}, tenant).status, 202u);

    // Hostile and unknown names, bodies, methods.
    expect_problem(d.post("/v1/job-types/nope/pause", "", admin), 404, "job-type-not-found");
    EXPECT_EQ(d.post("/v1/job-types/..%2F..%2Fetc/pause", "", admin).status, 404u);
    expect_problem(d.post("/v1/job-types/%FF/pause", "", admin), 400, "invalid-request");
    expect_problem(d.post("/v1/job-types/" + std::string(300, 'a') + "/pause", "", admin), 404, "job-type-not-found");
    expect_problem(d.post("/v1/job-types/sleep/pause", "{\"paused\":true}", admin), 400, "invalid-request");
    EXPECT_EQ(d.get("/v1/job-types/sleep/pause", admin).status, 405u);
    EXPECT_EQ(type_doc(d, "sleep", tenant).value("paused", true), false);
}
