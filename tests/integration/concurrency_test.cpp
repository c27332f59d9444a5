// Many clients submitting, polling and long-polling at once across job types: no job is
// lost or duplicated.
#include "support/daemon_test.hpp"

#include <atomic>
#include <mutex>
#include <thread>

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {
daemon_config_text busy() {
    daemon_config_text c;
    c.job_types["hello.yaml"] = "type: hello\nplugin: @PLUGINS@/hello.so\nworkers: 4\nqueue_capacity: 10000\n";
    c.job_types["sleep.yaml"] = "type: sleep\nplugin: @FIXTURES@/sleep.so\nworkers: 3\nqueue_capacity: 10000\n";
    return c;
}
class concurrency : public daemon_test_with<busy> {};
}  // namespace

TEST_F(concurrency, many_clients_no_lost_or_duplicated_jobs) {
    constexpr int submitters = 8, per_client = 40;
    std::mutex m;
    std::set<std::string> ids;
    std::atomic<int> errors{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < submitters; ++c) {
        threads.emplace_back([&, c] {
            for (int i = 0; i < per_client; ++i) {
                const bool hello = (i + c) % 2;
                // Every 4th request is sent twice with the same key: it must replay.
                header_list headers;
                if (i % 4 == 0) headers.emplace_back("Idempotency-Key", "cc-" + std::to_string(c) + "-" + std::to_string(i));
                auto r = d.submit(hello ? "hello" : "sleep", {{"delayMs", 10 + i % 20}}, headers);
                if (r.status != 202) {
                    ++errors;
                    continue;
                }
                const std::string id = r.json()["id"];
                if (!headers.empty()) {
                    auto again = d.submit(hello ? "hello" : "sleep", {{"delayMs", 10 + i % 20}}, headers);
                    if (again.status != 202 || again.json()["id"] != id) ++errors;
                }
                {
                    std::lock_guard lock(m);
                    if (!ids.insert(id).second) ++errors;
                }
                // Poll once, long-poll once.
                if (d.get("/v1/jobs/" + id).status / 100 > 3) ++errors;
                auto w = d.get("/v1/jobs/" + id + "?wait=5&redirect=false");
                if (w.status != 200) ++errors;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(errors.load(), 0);
    ASSERT_EQ(ids.size(), static_cast<size_t>(submitters * per_client));
    for (const auto& id : ids) EXPECT_EQ(d.wait_terminal(id, 60s)["status"], "succeeded");

    // The list holds exactly these jobs, each once.
    std::set<std::string> listed;
    std::string token;
    do {
        auto page = d.get("/v1/jobs?pageSize=500" + (token.empty() ? "" : "&pageToken=" + token)).json();
        for (const auto& j : page["jobs"]) EXPECT_TRUE(listed.insert(j["id"]).second);
        token = page["nextPageToken"].is_null() ? "" : page["nextPageToken"].get<std::string>();
    } while (!token.empty());
    EXPECT_EQ(listed, ids);
}
