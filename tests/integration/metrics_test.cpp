// /metrics after a known workload: the counters, gauges and histograms must add up.
#include "support/daemon_test.hpp"

#include <sstream>

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {

// The value of the series `name` whose labels include every `labels` pair (-1: absent).
double metric(const std::string& text, const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        const auto end_of_name = line.find_first_of("{ ");
        if (line.substr(0, end_of_name) != name) continue;
        bool all = true;
        for (const auto& [k, v] : labels) all = all && line.find(k + "=\"" + v + "\"") != std::string::npos;
        if (all) return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return -1;
}

daemon_config_text observed() {
    daemon_config_text c;
    c.job_types["sleep.yaml"] = "type: sleep\nplugin: @FIXTURES@/sleep.so\nworkers: 2\n";
    c.job_types["slow.yaml"] = "type: slow\nplugin: @FIXTURES@/sleep.so\nworkers: 1\n";
    return c;
}
class metrics : public daemon_test_with<observed> {
   protected:
    std::string scrape() {
        auto r = d.get("/metrics");
        EXPECT_EQ(r.status, 200u);
        EXPECT_EQ(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
        return r.body;
    }
};
}  // namespace

TEST_F(metrics, a_known_workload_adds_up) {
    std::vector<std::string> ids;
    for (int i = 0; i < 7; ++i) ids.push_back(submit_id("sleep", {{"delayMs", 1}}));
    for (int i = 0; i < 2; ++i) ids.push_back(submit_id("fail"));
    const auto canceled = submit_id("sleep", {{"delayMs", 30000}});
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + canceled).json().contains("progress"); }));
    d.post("/v1/jobs/" + canceled + "/cancel", "");
    ids.push_back(canceled);
    for (const auto& id : ids) d.wait_terminal(id);
    expect_problem(d.submit("hello", {{"delayMs", "soon"}}), 400, "invalid-request");

    // Terminal counts become visible with the terminal state: no waiting needed.
    const auto text = scrape();
    EXPECT_EQ(metric(text, "ticketd_jobs_submitted_total", {{"type", "sleep"}}), 8);
    EXPECT_EQ(metric(text, "ticketd_jobs_submitted_total", {{"type", "fail"}}), 2);
    EXPECT_EQ(metric(text, "ticketd_jobs_completed_total", {{"type", "sleep"}, {"outcome", "succeeded"}}), 7);
    EXPECT_EQ(metric(text, "ticketd_jobs_completed_total", {{"type", "sleep"}, {"outcome", "canceled"}}), 1);
    EXPECT_EQ(metric(text, "ticketd_jobs_completed_total", {{"type", "fail"}, {"outcome", "failed"}}), 2);
    EXPECT_EQ(metric(text, "ticketd_jobs_started_total", {{"type", "sleep"}}), 8);
    EXPECT_EQ(metric(text, "ticketd_jobs_rejected_total", {{"type", "hello"}, {"reason", "invalid_input"}}), 1);
    EXPECT_EQ(metric(text, "ticketd_job_duration_seconds_count", {{"type", "sleep"}}), 8);
    EXPECT_EQ(metric(text, "ticketd_job_queue_wait_seconds_count", {{"type", "fail"}}), 2);
    EXPECT_EQ(metric(text, "ticketd_job_duration_seconds_bucket", {{"type", "sleep"}, {"le", "+Inf"}}), 8);
    EXPECT_EQ(metric(text, "ticketd_http_requests_total", {{"handler", "/v1/jobs"}, {"method", "POST"}, {"code", "202"}}), 10);
    EXPECT_EQ(metric(text, "ticketd_http_requests_total", {{"handler", "/v1/jobs"}, {"method", "POST"}, {"code", "400"}}), 1);
    EXPECT_GE(metric(text, "ticketd_http_requests_total", {{"handler", "/v1/jobs/{id}"}, {"method", "GET"}}), 1);
    EXPECT_EQ(metric(text, "ticketd_plugin_info", {{"type", "sleep"}, {"plugin", "sleep"}}), 1);
    EXPECT_EQ(metric(text, "ticketd_plugin_load_failures_total"), 0);
    EXPECT_EQ(metric(text, "ticketd_config_last_reload_successful"), 1);
    EXPECT_EQ(metric(text, "ticketd_build_info", {{"abi", "1.2"}}), 1);
    // The sleep fixture's own metrics, registered through the host services.
    EXPECT_EQ(metric(text, "ticketd_plugin_sleep_runs_total", {{"type", "sleep"}}), 8);
    EXPECT_EQ(metric(text, "ticketd_plugin_sleep_input_bytes_count", {{"type", "sleep"}}), 8);
    EXPECT_GT(metric(text, "process_resident_memory_bytes"), 0);
    EXPECT_GT(metric(text, "process_open_fds"), 0);
    EXPECT_GT(metric(text, "process_start_time_seconds"), 1.7e9);
    // Labels come only from closed sets: no job id ever appears.
    for (const auto& id : ids) EXPECT_EQ(text.find(id), std::string::npos);
}

// Every job that runs once is three journaled writes (accepted, running, finished), made
// durable in groups of one or more; the applier's transactions follow.
TEST_F(metrics, the_store_reports_its_journal_syncs_and_applier_transactions) {
    for (int i = 0; i < 4; ++i) d.wait_terminal(submit_id("hello", {{"name", "store"}}));
    const auto text = scrape();
    EXPECT_EQ(metric(text, "ticketd_store_journal_writes_total"), 12);
    const double syncs = metric(text, "ticketd_store_journal_sync_duration_seconds_count");
    EXPECT_GE(syncs, 4);  // each submit waits for its accept's sync before the next one
    EXPECT_LE(syncs, 12);
    EXPECT_EQ(metric(text, "ticketd_store_journal_sync_duration_seconds_bucket", {{"le", "+Inf"}}), syncs);
    EXPECT_GT(metric(text, "ticketd_store_journal_sync_duration_seconds_sum"), 0);
    EXPECT_LT(metric(text, "ticketd_store_journal_sync_duration_seconds_sum"), 60);
    ASSERT_TRUE(eventually([&] { return metric(scrape(), "ticketd_store_apply_duration_seconds_count") >= 1; }));
    EXPECT_GT(metric(scrape(), "ticketd_store_apply_duration_seconds_sum"), 0);
}

TEST_F(metrics, queue_length_and_oldest_age_while_the_worker_is_busy) {
    const auto blocker = submit_id("slow", {{"delayMs", 30000}});
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + blocker).json().contains("progress"); }));
    for (int i = 0; i < 3; ++i) submit_id("slow", {{"delayMs", 1}});
    const auto first = scrape();
    EXPECT_EQ(metric(first, "ticketd_queue_length", {{"type", "slow"}}), 3);
    EXPECT_EQ(metric(first, "ticketd_workers_busy", {{"type", "slow"}}), 1);
    EXPECT_EQ(metric(first, "ticketd_workers", {{"type", "slow"}}), 1);
    EXPECT_EQ(metric(first, "ticketd_queue_capacity", {{"type", "slow"}}), 1000);
    const double age = metric(first, "ticketd_queue_oldest_job_age_seconds", {{"type", "slow"}});
    EXPECT_GE(age, 0);
    ASSERT_TRUE(eventually([&] {
        return metric(scrape(), "ticketd_queue_oldest_job_age_seconds", {{"type", "slow"}}) > age + 0.05;
    }));
    EXPECT_EQ(metric(first, "ticketd_queue_length", {{"type", "sleep"}}), 0);
    // The journaled writes reach SQLite within the applier's gathering time.
    EXPECT_GE(metric(first, "ticketd_store_unapplied_writes"), 0);
    ASSERT_TRUE(eventually([&] { return metric(scrape(), "ticketd_store_unapplied_writes") == 0; }));
    d.post("/v1/jobs/" + blocker + "/cancel", "");
}

namespace {
daemon_config_text separate_listener() {
    daemon_config_text c;
    c.top = "metrics:\n  listen: 127.0.0.1:0\n";
    return c;
}
daemon_config_text uninstrumented() {
    daemon_config_text c;
    c.top = "metrics:\n  enabled: false\n";
    return c;
}
class metrics_listener : public daemon_test_with<separate_listener> {};
class metrics_disabled : public daemon_test_with<uninstrumented> {};
}  // namespace

TEST_F(metrics_listener, metrics_are_served_only_on_their_own_address) {
    ASSERT_NE(d.metrics_port(), 0);
    ASSERT_NE(d.metrics_port(), d.port());
    expect_problem(d.get("/metrics"), 404, "not-found");
    auto r = http_request(d.metrics_port(), "GET", "/metrics");
    EXPECT_EQ(r.status, 200u);
    EXPECT_NE(r.body.find("ticketd_build_info"), std::string::npos);
    EXPECT_EQ(http_request(d.metrics_port(), "GET", "/v1/jobs").status, 404u);
}

TEST_F(metrics_disabled, nothing_is_served_or_recorded) {
    submit_id("hello");
    expect_problem(d.get("/metrics"), 404, "not-found");
}
