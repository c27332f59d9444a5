// kill -9 at any moment loses nothing that was acknowledged (protocol principle 4).
#include "support/daemon_test.hpp"
#include "support/old_schemas.hpp"
#include "support/sqlite_reader.hpp"

#include <boost/crc.hpp>

#include <sys/resource.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include <atomic>
#include <mutex>
#include <thread>

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {
size_t count_of(const std::string& haystack, const std::string& needle) {
    size_t n = 0;
    for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
    return n;
}

daemon_config_text crashable() {
    daemon_config_text c;
    c.job_types["sleep.yaml"] =
        "type: sleep\nplugin: @FIXTURES@/sleep.so\nworkers: 2\nqueue_capacity: 100000\nmax_attempts: 3\nretry_backoff: 0s\n";
    c.job_types["once.yaml"] = "type: once\nplugin: @FIXTURES@/sleep.so\nworkers: 1\nmax_attempts: 1\n";
    c.job_types["hello.yaml"] = "type: hello\nplugin: @PLUGINS@/hello.so\nworkers: 2\nqueue_capacity: 100000\n";
    return c;
}
class durability : public daemon_test_with<crashable> {
   protected:
    // Submits a job of `type` whose plugin kills the daemon the moment it starts, and
    // waits for the daemon to be gone.
    void submit_a_crash(const std::string& type, const std::string& key) {
        try {
            d.post("/v1/jobs", crash_body(type), crash_headers(key));  // answered or not before the crash
        } catch (const std::exception&) {
        }
        ASSERT_TRUE(eventually([&] { return !d.running(); }));
    }
    // The same request again, after the restart: the document of the job its key finds.
    nlohmann::json replay_crash(const std::string& type, const std::string& key) {
        const auto replay = d.post("/v1/jobs", crash_body(type), crash_headers(key));
        EXPECT_EQ(replay.status, 202u) << replay.body;
        return d.get("/v1/jobs/" + replay.json()["id"].get<std::string>() + "?redirect=false").json();
    }

   private:
    static std::string crash_body(const std::string& type) {
        return nlohmann::json{{"type", type}, {"input", {{"killDaemon", true}}}}.dump();
    }
    static header_list crash_headers(const std::string& key) {
        return {{"Content-Type", "application/json"}, {"Idempotency-Key", key}};
    }
};
}  // namespace

TEST_F(durability, kill_9_under_concurrent_load_loses_no_accepted_job) {
    constexpr int clients = 6;
    std::atomic<bool> stop{false};
    std::mutex m;
    std::map<std::string, std::string> accepted;  // idempotency key -> job id (got a 202)
    std::set<std::string> unanswered;             // keys whose POST got no answer
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] {
            for (int i = 0; !stop; ++i) {
                const std::string key = "c" + std::to_string(c) + "-" + std::to_string(i);
                try {
                    auto r = d.submit(i % 2 ? "hello" : "sleep", {{"delayMs", 20}}, {{"Idempotency-Key", key}});
                    std::lock_guard lock(m);
                    if (r.status == 202) accepted[key] = r.json()["id"];
                    else unanswered.insert(key);
                } catch (const std::exception&) {
                    std::lock_guard lock(m);
                    unanswered.insert(key);
                    return;  // the daemon is gone
                }
            }
        });
    }
    // Let some jobs finish and some be accepted, then kill mid-load.
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(m);
        return accepted.size() >= 150;
    }, 60s));
    d.kill9();
    stop = true;
    for (auto& t : threads) t.join();

    d.start();
    size_t found = 0;
    for (const auto& [key, id] : accepted) {
        auto r = d.get("/v1/jobs/" + id + "?redirect=false");
        ASSERT_EQ(r.status, 200u) << "accepted job " << id << " is lost";
        ++found;
    }
    EXPECT_EQ(found, accepted.size());
    // Every accepted job runs to success; results are intact.
    for (const auto& [key, id] : accepted) {
        const auto doc = d.wait_terminal(id, 60s);
        ASSERT_EQ(doc["status"], "succeeded") << doc.dump();
        EXPECT_EQ(d.get("/v1/jobs/" + id + "/result").status, 200u);
    }
    // A request that got no answer either created its job or not; retrying never
    // makes a second one.
    for (const auto& key : unanswered) {
        auto r = d.submit(key.find("-") != std::string::npos && std::stoi(key.substr(key.find('-') + 1)) % 2 ? "hello" : "sleep",
                          {{"delayMs", 20}}, {{"Idempotency-Key", key}});
        EXPECT_EQ(r.status, 202u) << r.body;
        EXPECT_EQ(d.get("/v1/jobs?idempotencyKey=" + key).json()["jobs"].size(), 1u) << key;
    }
    // Replays of acknowledged keys return the same job.
    for (const auto& [key, id] : accepted) {
        auto r = d.submit(std::stoi(key.substr(key.find('-') + 1)) % 2 ? "hello" : "sleep", {{"delayMs", 20}},
                          {{"Idempotency-Key", key}});
        ASSERT_EQ(r.status, 202u);
        EXPECT_EQ(r.json()["id"], id);
        break;  // one is enough after the full scan above
    }
    std::cout << "kill -9 test: " << accepted.size() << " accepted before the kill, all found; "
              << unanswered.size() << " unanswered retried safely\n";
}

TEST_F(durability, an_interrupted_running_job_is_retried_with_its_attempt_counted) {
    const auto id = submit_id("sleep", {{"delayMs", 30000}});
    // Progress comes from the plugin, which runs only once its attempt is marked.
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + id).json().contains("progress"); }));
    d.kill9();
    d.start();
    auto doc = d.get("/v1/jobs/" + id + "?redirect=false").json();
    EXPECT_EQ(doc["attempt"], 2);
    EXPECT_TRUE(doc["status"] == "queued" || doc["status"] == "running") << doc.dump();
    EXPECT_EQ(d.post("/v1/jobs/" + id + "/cancel", "").status / 100, 2u);
}

// A plugin that crashes the daemon uses up its attempts: the daemon does not crash-loop
// on that job. The plugin kills the process the instant it starts, long before the
// `running` write could be fdatasync'd; the attempt is known from its mark
// (jobs/attempt_marks.hpp).
TEST_F(durability, a_plugin_that_kills_the_daemon_uses_up_its_attempts) {
    ASSERT_NO_FATAL_FAILURE(submit_a_crash("once", "crash-1"));
    d.start();
    const auto doc = replay_crash("once", "crash-1");
    EXPECT_EQ(doc["status"], "failed") << doc.dump();
    EXPECT_EQ(doc["error"]["code"], "job-interrupted") << doc.dump();
    EXPECT_EQ(doc["attempt"], 1);
    EXPECT_TRUE(d.running());
    EXPECT_EQ(d.get("/healthz").status, 200u);
}

// A plugin that crashes the daemon costs its own job its attempts, nobody else's: the
// crash handler flags the attempt running on the faulting thread (jobs/attempt_marks.hpp),
// so recovery charges that attempt alone and requeues the others as they were. Each way a
// plugin can end the process: a fault, abort(), a stack overflow, exit(0).
TEST_F(durability, a_crashing_plugin_uses_up_only_its_own_jobs_attempts) {
    const rlimit no_core{0, 0};  // twelve crashes: no core dumps for them (the daemon inherits it)
    ::setrlimit(RLIMIT_CORE, &no_core);
    // Under the sanitizers: exit() on a plugin's thread runs LeakSanitizer's check while
    // the other threads go on, and the check can wait forever for the sanitizer's thread
    // registry (seen under load). A process a plugin ends is no leak-check candidate; the
    // daemon's own stops are checked in every other test.
    if (const char* asan = std::getenv("ASAN_OPTIONS")) d.set_env("ASAN_OPTIONS", std::string(asan) + ":leak_check_at_exit=0");
    for (const char* how : {"segv", "abort", "stack", "exit"}) {
        SCOPED_TRACE(how);
        // A bystander runs on the other worker when the poison job crashes the daemon.
        const auto bystander = submit_id("sleep", {{"delayMs", 60000}});
        ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + bystander).json().contains("progress"); }));
        const size_t named_before = count_of(d.log(), "ended the process");
        // The 202 may be lost in the crash: the key finds the job again afterwards.
        const header_list key = {{"Idempotency-Key", std::string("poison-") + how}};
        try {
            d.submit("sleep", {{"crashWith", how}}, key);
        } catch (const std::exception&) {
        }
        // Each start runs the poison job again at once (no backoff), often before the
        // daemon listens: three crashes, one per attempt, then a start that stays up.
        for (int attempt = 1; attempt <= 3; ++attempt) {
            ASSERT_TRUE(eventually([&] { return !d.running(); }, 30s)) << "attempt " << attempt << " did not crash";
            d.launch();
        }
        d.wait_listening();
        EXPECT_EQ(count_of(d.log(), "ended the process") - named_before, 3u) << d.log();
        const std::string poison = d.submit("sleep", {{"crashWith", how}}, key).json().value("id", "");
        ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + poison).json().value("status", "") == "failed"; }))
            << d.get("/v1/jobs/" + poison).body;
        const auto failed = d.get("/v1/jobs/" + poison).json();
        EXPECT_EQ(failed["error"]["code"], "job-interrupted") << failed.dump();
        EXPECT_EQ(failed["attempt"], 3);
        // The bystander was interrupted three times and used none of its attempts.
        const auto spared = d.get("/v1/jobs/" + bystander + "?redirect=false").json();
        EXPECT_EQ(spared["attempt"], 1) << spared.dump();
        EXPECT_NE(spared["status"], "failed") << spared.dump();
        EXPECT_EQ(d.post("/v1/jobs/" + bystander + "/cancel", "").status / 100, 2u);
        EXPECT_EQ(d.wait_terminal(bystander).value("status", ""), "canceled");
    }
}

// A worker that cannot make its attempt mark falls back to waiting for the fdatasync of
// its `running` write before the plugin starts, so a plugin that kills the daemon still
// uses up its attempt. (A type added by a reload after the marks' directory was replaced
// by a file gets workers without marks.)
TEST_F(durability, without_an_attempt_mark_a_run_starts_after_its_running_state_is_durable) {
    const auto attempts = d.dir() / "state" / "attempts";
    std::filesystem::remove_all(attempts);
    std::ofstream(attempts) << "not a directory";
    std::ofstream(d.dir() / "jobs.d" / "late.yaml")
        << "type: late\nplugin: " TICKETD_FIXTURE_DIR "/sleep.so\nworkers: 1\nmax_attempts: 1\n";
    d.signal(SIGHUP);
    ASSERT_TRUE(eventually([&] {
        return d.log().find("worker of type late: ") != std::string::npos &&
               d.log().find("its plugin runs start after the fdatasync of their 'running' state instead") !=
                   std::string::npos;
    }));
    ASSERT_NO_FATAL_FAILURE(submit_a_crash("late", "crash-late"));
    std::filesystem::remove(attempts);  // the next start makes the directory again
    d.start();
    const auto doc = replay_crash("late", "crash-late");
    EXPECT_EQ(doc["status"], "failed") << doc.dump();
    EXPECT_EQ(doc["error"]["code"], "job-interrupted") << doc.dump();
    EXPECT_TRUE(d.running());
    EXPECT_EQ(d.log().find("known to have started from their attempt mark only"), std::string::npos);
}

namespace {
// The ids of the jobs marked in the state directory's attempt marks (the layout of
// daemon/jobs/attempt_marks.cpp: u32 state (1 = marked), u32 attempt, u32 CRC-32 of
// attempt and id, 32 bytes of job id).
std::vector<std::string> marked_jobs(const std::filesystem::path& state) {
    std::vector<std::string> ids;
    for (const auto& e : std::filesystem::directory_iterator(state / "attempts")) {
        std::ifstream in(e.path(), std::ios::binary);
        char bytes[44] = {};
        if (!in.read(bytes, sizeof bytes) || bytes[0] != 1) continue;
        ids.emplace_back(bytes + 12, 32);
    }
    return ids;
}

void write_mark(const std::filesystem::path& file, const std::string& job_id, uint32_t attempt) {
    char bytes[44] = {};
    const uint32_t state = 1;
    std::memcpy(bytes, &state, 4);
    std::memcpy(bytes + 4, &attempt, 4);
    std::memcpy(bytes + 12, job_id.data(), 32);
    boost::crc_32_type crc;
    crc.process_bytes(bytes + 4, 4);
    crc.process_bytes(bytes + 12, 32);
    const uint32_t check = crc.checksum();
    std::memcpy(bytes + 8, &check, 4);
    std::ofstream(file, std::ios::binary).write(bytes, sizeof bytes);
}
}  // namespace

TEST_F(durability, a_running_attempt_is_marked_until_it_returns) {
    const auto id = submit_id("once", {{"delayMs", 30000}});
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + id).json().contains("progress"); }));
    const auto state = d.dir() / "state";
    EXPECT_EQ(marked_jobs(state), std::vector<std::string>{id});
    ASSERT_EQ(d.post("/v1/jobs/" + id + "/cancel", "").status / 100, 2u);
    d.wait_terminal(id);
    // The job may be finished (after the cancel grace) a moment before its plugin returns.
    EXPECT_TRUE(eventually([&] { return marked_jobs(state).empty(); }, 10s));
}

// The `running` write of an attempt did not reach the journal before the crash, its mark
// did: recovery counts the attempt.
TEST_F(durability, a_queued_job_with_a_left_over_attempt_mark_counts_that_attempt) {
    const auto busy = submit_id("once", {{"delayMs", 30000}});  // holds the only worker
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + busy).json().contains("progress"); }));
    const auto queued = submit_id("once", {{"delayMs", 1}});
    EXPECT_EQ(d.get("/v1/jobs/" + queued).json()["status"], "queued");
    d.kill9();
    write_mark(d.dir() / "state" / "attempts" / "left-over.mark", queued, 1);
    d.start();
    for (const auto& id : {busy, queued}) {
        const auto doc = d.get("/v1/jobs/" + id + "?redirect=false").json();
        EXPECT_EQ(doc["status"], "failed") << doc.dump();
        EXPECT_EQ(doc["error"]["code"], "job-interrupted") << doc.dump();
    }
    EXPECT_NE(d.log().find("1 known to have started from their attempt mark only"), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(d.dir() / "state" / "attempts" / "left-over.mark"));
}

TEST_F(durability, out_of_attempts_an_interrupted_job_fails_job_interrupted) {
    const auto id = submit_id("once", {{"delayMs", 30000}});
    // Progress comes from the plugin, which runs only once its attempt is marked.
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + id).json().contains("progress"); }));
    d.kill9();
    d.start();
    const auto doc = d.get("/v1/jobs/" + id).json();
    EXPECT_EQ(doc["status"], "failed");
    EXPECT_EQ(doc["error"]["code"], "job-interrupted");
}

TEST_F(durability, finished_results_survive_a_kill) {
    const auto id = submit_id("sleep", {{"delayMs", 1}, {"text", "kept"}});
    d.wait_terminal(id);
    d.kill9();
    d.start();
    auto r = d.get("/v1/jobs/" + id + "/result");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, "kept");
    EXPECT_EQ(d.get("/v1/jobs/" + id).status, 303u);
}


// A state directory from the first release (schema 1: no uploads, results as files only)
// is migrated in place: its queued job runs and its finished job's result is served.
TEST(schema_migration, a_schema_1_store_is_migrated_and_keeps_its_jobs) {
    daemon_process d;
    std::filesystem::create_directories(d.dir() / "state" / "results");
    write_schema_1_store(d.dir() / "state", R"sql(
INSERT INTO jobs (id, type, principal, status, cancel_requested, attempt, priority, timeout_ms, created_at,
  updated_at, input, labels, version) VALUES ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'hello', 'anonymous', 'queued',
  0, 1, 0, 0, 1790000000000, 1790000000000, '{"name":"v1"}', '{}', 1);
INSERT INTO jobs (id, type, principal, status, cancel_requested, attempt, priority, timeout_ms, created_at,
  updated_at, finished_at, expires_at, input, labels, result_type, result_size, version) VALUES
  ('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'hello', 'anonymous', 'succeeded', 0, 1, 0, 0, 1790000000000,
  1790000000001, 1790000000001, 4102444800000, '{}', '{}', 'text/plain', 3, 2);
PRAGMA user_version = 1;
)sql");
    std::ofstream(d.dir() / "state" / "results" / "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb") << "old";
    d.start();
    const auto job = d.wait_terminal("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    EXPECT_EQ(job.value("status", ""), "succeeded") << job.dump();
    EXPECT_EQ(d.get("/v1/jobs/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/result").json().value("greeting", ""), "Hello, v1!");
    EXPECT_EQ(d.get("/v1/jobs/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/result").body, "old");
    sqlite_reader db((d.dir() / "state" / "ticketd.db").string());
    EXPECT_EQ(db.rows("PRAGMA user_version"), std::vector<std::string>{"8"});
}

// Schema 3 kept inline results keyed by the job's id and key bindings in a rowid table with
// a by-job index; schema 4 rebuilds both. The inline result is still served, the key still
// stays bound to its job, and a deleted job's key keeps its flag.
TEST(schema_migration, a_schema_3_store_keeps_inline_results_and_key_bindings) {
    daemon_process d;
    write_schema_1_store(d.dir() / "state", R"sql(
ALTER TABLE jobs ADD COLUMN files TEXT NOT NULL DEFAULT '{}';
ALTER TABLE jobs ADD COLUMN result_name TEXT;
ALTER TABLE jobs ADD COLUMN result_inline INTEGER NOT NULL DEFAULT 0;
CREATE INDEX keys_by_job ON idempotency_keys(job_id);
CREATE TABLE results (job_id TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE uploads (id TEXT PRIMARY KEY, principal TEXT NOT NULL, content_type TEXT NOT NULL,
  size INTEGER NOT NULL, sha256 TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
INSERT INTO jobs (id, type, principal, idempotency_key, fingerprint, status, cancel_requested, attempt, priority,
  timeout_ms, created_at, updated_at, finished_at, expires_at, input, labels, result_type, result_size, version,
  result_inline) VALUES ('cccccccccccccccccccccccccccccccc', 'hello', 'anonymous', 'k3', 'fp', 'succeeded', 0, 1,
  0, 0, 1790000000000, 1790000000001, 1790000000001, 4102444800000, '{}', '{}', 'application/json', 9, 2, 1);
INSERT INTO results VALUES ('cccccccccccccccccccccccccccccccc', '{"v":"3"}');
INSERT INTO idempotency_keys VALUES ('anonymous', 'k3', 'cccccccccccccccccccccccccccccccc', 'fp', 0,
  4102444800000);
INSERT INTO idempotency_keys VALUES ('anonymous', 'gone', 'dddddddddddddddddddddddddddddddd', 'fp', 1,
  4102444800000);
INSERT INTO tombstones VALUES ('dddddddddddddddddddddddddddddddd', 'hello', 1790000000000, 4102444800000);
INSERT INTO jobs (seq, id, type, principal, status, cancel_requested, attempt, priority, timeout_ms, created_at,
  updated_at, input, labels, version) VALUES (41, 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', 'hello', 'anonymous',
  'queued', 0, 1, 0, 0, 1790000000000, 1790000000000, '{}', '{}', 1);
DELETE FROM jobs WHERE seq = 41;
PRAGMA user_version = 3;
)sql");
    d.start();
    EXPECT_EQ(d.get("/v1/jobs/cccccccccccccccccccccccccccccccc/result").body, R"({"v":"3"})");
    // Both keys are still bound (to their jobs, by another request): 422 naming the job.
    const auto k3 = d.submit("hello", {{"name", "x"}}, {{"Idempotency-Key", "k3"}});
    expect_problem(k3, 422, "idempotency-key-reused");
    EXPECT_EQ(k3.json().value("jobId", ""), "cccccccccccccccccccccccccccccccc");
    const auto gone = d.submit("hello", {{"name", "x"}}, {{"Idempotency-Key", "gone"}});
    expect_problem(gone, 422, "idempotency-key-reused");
    EXPECT_EQ(gone.json().value("jobId", ""), "dddddddddddddddddddddddddddddddd");
    sqlite_reader db((d.dir() / "state" / "ticketd.db").string());
    EXPECT_EQ(db.rows("PRAGMA user_version"), std::vector<std::string>{"8"});
    EXPECT_EQ(db.rows("SELECT seq FROM results"), db.rows("SELECT seq FROM jobs WHERE id='cccccccccccccccccccccccccccccccc'"));
    EXPECT_EQ(db.rows("SELECT key, job_deleted FROM idempotency_keys ORDER BY key"),
              (std::vector<std::string>{"gone|1", "k3|0"}));
    EXPECT_EQ(db.rows("SELECT name FROM sqlite_master WHERE name='keys_by_job'"), std::vector<std::string>{});
    // Schema 7: a tombstone names whose job it was; the ones from before are anonymous's.
    EXPECT_EQ(db.rows("SELECT principal FROM tombstones"), std::vector<std::string>{"anonymous"});
    // Schema 6: no index on the job id any more; the old ids are listed with their seq,
    // new jobs are numbered after every seq given before (41, since deleted), and a
    // removed old job leaves the list.
    EXPECT_EQ(db.rows("SELECT name FROM pragma_index_list('jobs') ORDER BY name"),
              (std::vector<std::string>{"jobs_by_expiry", "jobs_by_principal", "jobs_unfinished"}));
    EXPECT_EQ(db.rows("SELECT id FROM legacy_job_ids"), std::vector<std::string>{"cccccccccccccccccccccccccccccccc"});
    const auto fresh = d.submit("hello", {{"name", "y"}});
    ASSERT_EQ(fresh.status, 202u) << fresh.body;
    const std::string fresh_id = fresh.json().value("id", "");
    EXPECT_EQ(d.wait_terminal(fresh_id).value("status", ""), "succeeded");
    EXPECT_EQ(d.del("/v1/jobs/cccccccccccccccccccccccccccccccc").status, 204u);
    EXPECT_EQ(d.get("/v1/jobs/cccccccccccccccccccccccccccccccc").status, 410u);
    EXPECT_EQ(d.stop(), 0);
    EXPECT_EQ(db.rows("SELECT seq FROM jobs WHERE id='" + fresh_id + "'"), std::vector<std::string>{"42"});
    EXPECT_EQ(db.rows("SELECT count(*) FROM legacy_job_ids"), std::vector<std::string>{"0"});
    // The key bindings are rows numbered by their job's seq (negative: the job was gone
    // before the migration); deleting the old job marked its binding by that number.
    EXPECT_EQ(db.rows("SELECT key, seq < 0, job_deleted FROM idempotency_keys ORDER BY key"),
              (std::vector<std::string>{"gone|1|1", "k3|0|1"}));
}
