// Retention and tombstones, graceful drain on SIGTERM.
#include "support/daemon_test.hpp"

#include <thread>

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {
daemon_config_text short_retention() {
    daemon_config_text c;
    c.top = "allow_short_retention: true\nidempotency:\n  ttl: 100ms\n";
    c.jobs += "  tombstone_ttl: 5s\n  purge_interval: 50ms\n";
    c.job_types["sleep.yaml"] = "type: sleep\nplugin: @FIXTURES@/sleep.so\nworkers: 2\nretention: 3s\n";
    return c;
}
class retention : public daemon_test_with<short_retention> {};
}  // namespace

TEST_F(retention, expired_jobs_answer_410_then_404) {
    const auto id = submit_id("sleep", {{"delayMs", 1}});
    const auto doc = d.wait_terminal(id);
    const auto finished = doc["finishedAt"].get<std::string>();
    EXPECT_FALSE(doc["expiresAt"].is_null());
    EXPECT_GT(doc["expiresAt"].get<std::string>(), finished);
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + id).status == 410; }, 20s));
    EXPECT_EQ(d.get("/v1/jobs/" + id + "/result").status, 410u);
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + id).status == 404; }, 20s));
}

TEST_F(retention, ids_are_never_reused) {
    std::set<std::string> ids;
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(ids.insert(submit_id("sleep", {{"delayMs", 0}})).second);
}

namespace {
daemon_config_text drainable() {
    daemon_config_text c;
    c.jobs = "  cancel_grace: 1s\n  drain_timeout: 3s\n";
    c.job_types["sleep.yaml"] = "type: sleep\nplugin: @FIXTURES@/sleep.so\nworkers: 1\nmax_attempts: 1\n";
    return c;
}
class drain : public daemon_test_with<drainable> {};
}  // namespace

TEST_F(drain, sigterm_requeues_running_jobs_without_using_an_attempt) {
    const auto long_job = submit_id("sleep", {{"delayMs", 30000}});
    const auto queued = submit_id("sleep", {{"delayMs", 1}});
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + long_job).json()["status"] == "running"; }));
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(d.stop(), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);  // not the 30 s job
    EXPECT_NE(d.log().find("drain"), std::string::npos);

    d.start();
    // max_attempts is 1: had the drain used an attempt, the job would now be failed.
    const auto doc = d.get("/v1/jobs/" + long_job + "?redirect=false").json();
    EXPECT_TRUE(doc["status"] == "queued" || doc["status"] == "running") << doc.dump();
    EXPECT_EQ(doc["attempt"], 1);
    EXPECT_EQ(d.post("/v1/jobs/" + long_job + "/cancel", "").status / 100, 2u);
    EXPECT_EQ(d.wait_terminal(queued)["status"], "succeeded");
}

TEST_F(drain, while_draining_readiness_is_off_and_submits_get_503) {
    const auto long_job = submit_id("sleep", {{"delayMs", 30000}});
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + long_job).json()["status"] == "running"; }));
    std::thread stopper([&] { d.stop(); });
    bool saw_draining = false;
    eventually([&] {
        try {
            auto ready = d.get("/readyz");
            auto sub = d.submit("sleep", {{"delayMs", 1}});
            if (ready.status == 503 && sub.status == 503) {
                saw_draining = true;
                EXPECT_TRUE(sub.header("Retry-After").has_value());
            }
        } catch (const std::exception&) {
            return true;  // already stopped listening
        }
        return saw_draining;
    }, 20s);
    stopper.join();
    EXPECT_TRUE(saw_draining);
}
