// Cancel and delete: conformance 5.6, plus timeouts and plugins that ignore cancellation.
#include "support/daemon_test.hpp"

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {
daemon_config_text one_sleep_worker() {
    daemon_config_text c;
    c.job_types["sleep.yaml"] = "type: sleep\nplugin: @FIXTURES@/sleep.so\nworkers: 1\n";
    c.job_types["stubborn.yaml"] = "type: stubborn\nplugin: @FIXTURES@/stubborn.so\nworkers: 2\n";
    c.job_types["stubborn-timeout.yaml"] =
        "type: stubborn-timeout\nplugin: @FIXTURES@/stubborn.so\nworkers: 2\ntimeout: 500ms\n";
    c.job_types["stubborn-one.yaml"] = "type: stubborn-one\nplugin: @FIXTURES@/stubborn.so\nworkers: 1\n";
    return c;
}
class cancel_delete : public daemon_test_with<one_sleep_worker> {
   protected:
    void wait_running(const std::string& id) {
        ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + id).json()["status"] == "running"; }));
    }
};
}  // namespace

TEST_F(cancel_delete, canceling_a_queued_job_is_200_and_it_never_starts) {
    const auto blocker = submit_id("sleep", {{"delayMs", 30000}});  // runs until canceled
    wait_running(blocker);
    const auto queued = submit_id("sleep", {{"delayMs", 1}});
    auto r = d.post("/v1/jobs/" + queued + "/cancel", "");
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(r.json()["status"], "canceled");
    EXPECT_EQ(r.json()["error"]["code"], "job-canceled");
    ASSERT_EQ(d.post("/v1/jobs/" + blocker + "/cancel", "").status, 202u);
    d.wait_terminal(blocker);
    const auto doc = d.get("/v1/jobs/" + queued).json();
    EXPECT_EQ(doc["status"], "canceled");
    EXPECT_TRUE(doc["startedAt"].is_null());  // the handler never ran
    // Cancel again: 200, unchanged.
    EXPECT_EQ(d.post("/v1/jobs/" + queued + "/cancel", "").status, 200u);
}

TEST_F(cancel_delete, canceling_a_running_job_is_202_then_canceled) {
    const auto id = submit_id("sleep", {{"delayMs", 20000}});
    wait_running(id);
    auto r = d.post("/v1/jobs/" + id + "/cancel", "", {{"Idempotency-Key", "ignored"}});
    ASSERT_TRUE(r.status == 202u || r.status == 200u) << r.body;
    if (r.status == 202u) {
        EXPECT_EQ(r.json()["cancelRequested"], true);
        EXPECT_EQ(r.header("Location"), d.url("/v1/jobs/" + id));
        EXPECT_TRUE(r.header("Retry-After").has_value());
    }
    const auto doc = d.wait_terminal(id);
    EXPECT_EQ(doc["status"], "canceled");
    EXPECT_EQ(doc["error"]["code"], "job-canceled");
    auto again = d.post("/v1/jobs/" + id + "/cancel", "");
    EXPECT_EQ(again.status, 200u);
}

TEST_F(cancel_delete, canceling_a_finished_or_unknown_job) {
    const auto id = submit_id("sleep", {{"delayMs", 1}});
    d.wait_terminal(id);
    auto r = d.post("/v1/jobs/" + id + "/cancel", "");
    expect_problem(r, 409, "job-already-terminal");
    EXPECT_EQ(d.get("/v1/jobs/" + id + "?redirect=false").json()["status"], "succeeded");
    expect_problem(d.post("/v1/jobs/0123456789abcdef0123456789abcdef/cancel", ""), 404, "job-not-found");
}

TEST_F(cancel_delete, deleting_a_terminal_job_is_204_then_410_and_204_again) {
    const auto id = submit_id("sleep", {{"delayMs", 1}});
    d.wait_terminal(id);
    EXPECT_EQ(d.del("/v1/jobs/" + id, {{"Idempotency-Key", "ignored"}}).status, 204u);
    expect_problem(d.get("/v1/jobs/" + id), 410, "job-gone");
    expect_problem(d.get("/v1/jobs/" + id + "/result"), 410, "job-gone");
    EXPECT_EQ(d.del("/v1/jobs/" + id).status, 204u);
    for (const auto& j : d.get("/v1/jobs").member("jobs")) EXPECT_NE(j["id"], id);
}

TEST_F(cancel_delete, deleting_a_running_job_is_202_hidden_at_once_and_the_handler_stops) {
    const auto id = submit_id("sleep", {{"delayMs", 20000}});
    wait_running(id);
    EXPECT_EQ(d.del("/v1/jobs/" + id).status, 202u);
    expect_problem(d.get("/v1/jobs/" + id), 410, "job-gone");
    for (const auto& j : d.get("/v1/jobs").member("jobs")) EXPECT_NE(j["id"], id);
    // The single worker is free again: the handler saw the cancellation.
    const auto next = submit_id("sleep", {{"delayMs", 1}});
    EXPECT_EQ(d.wait_terminal(next, 10s)["status"], "succeeded");
}

TEST_F(cancel_delete, delete_with_a_body_is_400) {
    const auto id = submit_id("sleep", {{"delayMs", 1}});
    expect_problem(d.del("/v1/jobs/" + id, {{"Content-Type", "application/json"}}, "{}"), 400, "invalid-request");
}

TEST_F(cancel_delete, a_job_past_its_timeout_fails_with_job_timeout) {
    auto r = d.post("/v1/jobs", R"({"type":"sleep","input":{"delayMs":20000},"timeoutSeconds":1})");
    ASSERT_EQ(r.status, 202u);
    const auto doc = d.wait_terminal(r.json()["id"], 15s);
    EXPECT_EQ(doc["status"], "failed");
    EXPECT_EQ(doc["error"]["code"], "job-timeout");
}

TEST_F(cancel_delete, a_plugin_that_ignores_the_timeout_is_finished_without_it) {
    // stubborn-timeout: timeout 500ms, cancel_grace 1s, sleeps 20 s ignoring cancellation.
    const auto start = std::chrono::steady_clock::now();
    const auto doc = d.wait_terminal(submit_id("stubborn-timeout", {{"delayMs", 20000}}), 18s);
    EXPECT_EQ(doc["status"], "failed");
    EXPECT_EQ(doc["error"]["code"], "job-timeout");
    EXPECT_LT(std::chrono::steady_clock::now() - start, 15s);  // not the 20 s the plugin sleeps
}

TEST_F(cancel_delete, a_plugin_that_ignores_cancel_is_canceled_after_the_grace) {
    auto r = d.post("/v1/jobs", R"({"type":"stubborn","input":{"delayMs":20000}})");
    const std::string id = r.json()["id"];
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + id).json()["status"] == "running"; }));
    EXPECT_EQ(d.post("/v1/jobs/" + id + "/cancel", "").status, 202u);
    const auto doc = d.wait_terminal(id, 15s);
    EXPECT_EQ(doc["status"], "canceled") << doc.dump();
}

// A plugin that never gives its worker back after a stop request does not cost its pool
// that worker: once the job is finished without it, another worker takes its place, and
// if the plugin returns after all, that worker leaves instead of swelling the pool.
TEST_F(cancel_delete, a_worker_abandoned_in_its_plugin_is_replaced_in_the_pool) {
    auto abandoned = [&] {
        const std::string m = d.get("/metrics").body, series = "ticketd_workers_abandoned{type=\"stubborn-one\"} ";
        const auto at = m.find(series);
        return at == std::string::npos ? -1 : std::stoi(m.substr(at + series.size()));
    };
    const std::string stuck = submit_id("stubborn-one", {{"delayMs", 15000}});
    wait_running(stuck);
    ASSERT_EQ(d.post("/v1/jobs/" + stuck + "/cancel", "").status, 202u);
    EXPECT_EQ(d.wait_terminal(stuck, 15s)["status"], "canceled");
    EXPECT_EQ(abandoned(), 1);
    // The pool's only worker is still asleep in the plugin; its replacement runs this.
    const auto next = d.wait_terminal(submit_id("stubborn-one", {{"delayMs", 1}}), 12s);
    EXPECT_EQ(next["status"], "succeeded") << next.dump();
    EXPECT_EQ(d.log().find("worker leaves"), std::string::npos) << "the quick job waited for the stuck plugin";
    // The stuck plugin returns after its 15 s: its worker leaves, the pool is one again.
    ASSERT_TRUE(eventually([&] { return d.log().find("worker leaves") != std::string::npos; }, 30s)) << d.log();
    EXPECT_TRUE(eventually([&] { return abandoned() == 0; }, 5s));
    EXPECT_EQ(d.wait_terminal(submit_id("stubborn-one", {{"delayMs", 1}}), 20s)["status"], "succeeded");
}
