// auth.mode api_keys against the real binary: keys made with `ticketd keys`, principals
// kept apart end to end (jobs, keys, uploads, lists), an administrator's reach, revocation
// and expiry, and the refusal to serve a public address without authentication.
#include "support/daemon_test.hpp"

#include <map>
#include <thread>

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {

daemon_config_text keyed_config() {
    daemon_config_text c;
    c.top = "auth:\n  mode: api_keys\n  keys_file: keys.yaml\n";
    return c;
}

class auth_test : public ::testing::Test {
   protected:
    auth_test() : d(keyed_config()) {}
    void TearDown() override {
        if (HasFailure()) std::cerr << "---- ticketd log ----\n" << d.log() << "---------------------\n";
    }

    std::string create_key(const std::string& principal, const std::vector<std::string>& scopes,
                           const std::string& expires = "") {
        return create_api_key(d, principal, scopes, expires);
    }
    static header_list as(const std::string& token) { return bearer(token); }
    size_t count(const std::string& needle) const { return d.log_count(needle); }
    void reload() {
        const size_t applied = count("reload: applied");
        d.signal(SIGHUP);
        ASSERT_TRUE(eventually([&] { return count("reload: applied") > applied; }, 20s)) << "reload not applied";
    }

    daemon_process d;
    const std::vector<std::string> tenant = {"jobs:submit", "jobs:read", "jobs:cancel", "uploads:write",
                                             "uploads:read"};
};

}  // namespace

TEST_F(auth_test, each_principal_sees_only_its_own_jobs_uploads_and_keys) {
    const auto billing = create_key("billing", tenant);
    const auto payroll = create_key("payroll", tenant);
    const auto ops = create_key("ops", {"admin"});
    d.start();

    EXPECT_EQ(d.get("/healthz").status, 200u) << "health stays open";
    const auto anonymous = d.get("/v1/jobs");
    expect_problem(anonymous, 401, "unauthenticated");
    EXPECT_EQ(anonymous.header("WWW-Authenticate"), R"(Bearer realm="ticketd")");
    EXPECT_EQ(d.submit("hello", {{"name", "x"}}).status, 401u);

    // Another principal's job is exactly a job that does not exist.
    const auto submitted = d.submit("hello", {{"name", "billing"}}, as(billing));
    ASSERT_EQ(submitted.status, 202u) << submitted.body;
    const std::string id = submitted.member("id");
    EXPECT_EQ(submitted.member("principal"), "billing");
    const std::string missing = "/v1/jobs/0123456789abcdef0123456789abcdef";
    const auto not_there = d.get(missing, as(payroll));
    for (const auto& path : {"/v1/jobs/" + id, "/v1/jobs/" + id + "/result"}) {
        const auto hidden = d.get(path, as(payroll));
        expect_problem(hidden, 404, "job-not-found");
        EXPECT_EQ(hidden.json()["detail"], not_there.json()["detail"]);
    }
    expect_problem(d.post("/v1/jobs/" + id + "/cancel", "", as(payroll)), 404, "job-not-found");
    expect_problem(d.del("/v1/jobs/" + id, as(payroll)), 404, "job-not-found");
    EXPECT_EQ(d.wait_terminal(id, 30s, as(billing)).value("status", ""), "succeeded");
    EXPECT_EQ(d.get("/v1/jobs/" + id + "?redirect=false", as(ops)).status, 200u) << "an administrator sees it";

    // The same Idempotency-Key from two principals: two jobs; again from one: a replay.
    header_list key_a = as(billing), key_b = as(payroll);
    key_a.emplace_back("Idempotency-Key", "\"report-2026-11\"");
    key_b.emplace_back("Idempotency-Key", "\"report-2026-11\"");
    const auto first = d.submit("hello", {{"name", "a"}}, key_b);
    const auto second = d.submit("hello", {{"name", "a"}}, key_a);
    ASSERT_EQ(first.status, 202u) << first.body;
    ASSERT_EQ(second.status, 202u) << second.body;
    EXPECT_NE(first.member("id"), second.member("id"));
    EXPECT_FALSE(second.header("Idempotent-Replayed"));
    const auto replay = d.submit("hello", {{"name", "a"}}, key_a);
    EXPECT_EQ(replay.member("id"), second.member("id"));
    EXPECT_EQ(replay.header("Idempotent-Replayed"), "true");

    // Lists: one's own; an administrator's: everyone's, or one principal's.
    auto ids = [&](const std::string& target, const std::string& token) {
        std::set<std::string> out;
        const auto r = d.get(target, as(token));
        EXPECT_EQ(r.status, 200u) << r.body;
        for (const auto& j : r.member("jobs")) out.insert(j.value("id", ""));
        return out;
    };
    EXPECT_EQ(ids("/v1/jobs", billing), (std::set<std::string>{id, second.member("id")}));
    EXPECT_EQ(ids("/v1/jobs", payroll), (std::set<std::string>{first.member("id")}));
    EXPECT_EQ(ids("/v1/jobs", ops).size(), 3u);
    EXPECT_EQ(ids("/v1/jobs?principal=payroll", ops), (std::set<std::string>{first.member("id")}));
    expect_problem(d.get("/v1/jobs?principal=payroll", as(billing)), 403, "forbidden");

    // Uploads: another principal's upload cannot be read, deleted or used in a job.
    header_list upload_headers = as(billing);
    upload_headers.emplace_back("Content-Type", "text/csv");
    const auto upload = d.post("/v1/uploads", "a,b\n1,2\n", upload_headers);
    ASSERT_EQ(upload.status, 201u) << upload.body;
    const std::string upload_id = upload.member("id");
    expect_problem(d.get("/v1/uploads/" + upload_id, as(payroll)), 404, "upload-not-found");
    expect_problem(d.del("/v1/uploads/" + upload_id, as(payroll)), 404, "upload-not-found");
    EXPECT_EQ(d.get("/v1/uploads/" + upload_id, as(billing)).status, 200u);
    const auto borrowed = d.post("/v1/jobs", R"({"type":"hello","input":{},"files":{"in.csv":")" + upload_id + "\"}}",
                                 [&] { auto h = as(payroll); h.emplace_back("Content-Type", "application/json"); return h; }());
    EXPECT_NE(borrowed.status, 202u) << borrowed.body;
    EXPECT_NE(borrowed.body.find("no upload"), std::string::npos) << borrowed.body;

    // Metrics need their scope; the log names who was denied, never a token.
    expect_problem(d.get("/metrics", as(billing)), 403, "forbidden");
    EXPECT_EQ(d.get("/metrics", as(ops)).status, 200u);
    EXPECT_GE(count("auth: denied 401 (no key)"), 2u);
    EXPECT_GE(count("auth: denied 403 (lacks metrics:read): principal billing"), 1u);
    EXPECT_GE(count("auth: admin ops"), 1u);
    for (const auto& token : {billing, payroll, ops}) EXPECT_EQ(d.log().find(token.substr(4)), std::string::npos);
}

// A deleted job's tombstone is its owner's too: once the job has left memory (a restart),
// another principal still gets 404, not the 410 that would say it existed.
TEST_F(auth_test, a_deleted_job_stays_invisible_to_other_principals_after_a_restart) {
    const auto billing = create_key("billing", tenant);
    const auto payroll = create_key("payroll", tenant);
    const auto ops = create_key("ops", {"admin"});
    d.start();
    const auto submitted = d.submit("hello", {{"name", "billing"}}, as(billing));
    ASSERT_EQ(submitted.status, 202u) << submitted.body;
    const std::string id = submitted.member("id");
    const std::string job = "/v1/jobs/" + id;
    EXPECT_EQ(d.wait_terminal(id, 30s, as(billing)).value("status", ""), "succeeded");
    ASSERT_EQ(d.del(job, as(billing)).status, 204u);
    for (int run = 0; run < 2; ++run) {  // in memory, then from the store's tombstone
        SCOPED_TRACE(run == 0 ? "in memory" : "after a restart");
        expect_problem(d.get(job, as(payroll)), 404, "job-not-found");
        expect_problem(d.post(job + "/cancel", "", as(payroll)), 404, "job-not-found");
        expect_problem(d.del(job, as(payroll)), 404, "job-not-found");
        expect_problem(d.get(job, as(billing)), 410, "job-gone");
        expect_problem(d.get(job, as(ops)), 410, "job-gone");
        EXPECT_EQ(d.del(job, as(billing)).status, 204u);
        if (run == 0) {
            ASSERT_EQ(d.stop(), 0);
            d.start();
        }
    }
}

// Every route of the real binary with every kind of credential: none, a bad token, an
// expired key, a revoked key, a key lacking the route's scope, another principal's key,
// and the right key; each answered as docs/security.md says.
TEST_F(auth_test, every_route_answers_every_credential_as_documented) {
    const std::vector<std::string> all = {"jobs:submit", "jobs:read",     "jobs:cancel", "uploads:write",
                                          "uploads:read", "metrics:read"};
    const auto billing = create_key("billing", all);
    const auto payroll = create_key("payroll", all);
    std::map<std::string, std::string> lacking;  // scope -> a key with every other scope
    for (const auto& scope : all) {
        std::vector<std::string> others;
        for (const auto& s : all) {
            if (s != scope) others.push_back(s);
        }
        lacking[scope] = create_key("billing", others);
    }
    const auto revoked = create_key("billing", all);
    std::string out;
    ASSERT_EQ(run_ticketd({"keys", "revoke", revoked.substr(4, 16), "--config", (d.dir() / "ticketd.yaml").string()}, out), 0);
    const auto expired = create_key("billing", all, "1s");
    d.start();
    ASSERT_TRUE(eventually([&] { return d.get("/v1/job-types", as(expired)).status == 401u; }, 10s));

    // billing's things: a finished job, a running one, two uploads (one to delete).
    const std::string done = d.submit("hello", {{"name", "x"}}, as(billing)).member("id");
    d.wait_terminal(done, 30s, as(billing));
    const std::string running = d.submit("sleep", {{"delayMs", 60000}}, as(billing)).member("id");
    const std::string doomed = d.submit("hello", {{"name", "y"}}, as(billing)).member("id");
    d.wait_terminal(doomed, 30s, as(billing));
    const std::string failed = d.submit("fail", {}, as(billing)).member("id");
    d.wait_terminal(failed, 30s, as(billing));
    header_list octets = as(billing);
    octets.emplace_back("Content-Type", "application/octet-stream");
    const std::string upload = d.post("/v1/uploads", "abc", octets).member("id");
    const std::string doomed_upload = d.post("/v1/uploads", "abc", octets).member("id");

    struct route {
        std::string method, path, scope;  // scope "": any valid key
        unsigned ok;
        bool owned;  // another principal must get 404
        std::string body = "";
    };
    const std::string submit = R"({"type":"hello","input":{"name":"z"}})";
    const std::vector<route> routes = {
        {"GET", "/metrics", "metrics:read", 200, false},
        {"GET", "/v1/jobs", "jobs:read", 200, false},
        {"POST", "/v1/jobs", "jobs:submit", 202, false, submit},
        {"GET", "/v1/jobs/" + done + "?redirect=false", "jobs:read", 200, true},
        {"GET", "/v1/jobs/" + done + "/result", "jobs:read", 200, true},
        {"POST", "/v1/jobs/" + running + "/cancel", "jobs:cancel", 202, true},
        {"DELETE", "/v1/jobs/" + doomed, "jobs:cancel", 204, true},
        {"POST", "/v1/jobs/" + failed + "/retry", "jobs:submit", 202, true},
        {"POST", "/v1/jobs:retry", "jobs:submit", 200, false, "{}"},
        {"GET", "/v1/job-types", "", 200, false},
        {"POST", "/v1/uploads", "uploads:write", 201, false, "abc"},
        {"GET", "/v1/uploads/" + upload, "uploads:read", 200, true},
        {"DELETE", "/v1/uploads/" + doomed_upload, "uploads:write", 204, true},
    };
    auto call = [&](const route& r, const header_list& who) {
        header_list h = who;
        if (r.method == "POST") h.emplace_back("Content-Type", r.path == "/v1/uploads" ? "text/plain" : "application/json");
        if (r.method == "GET") return d.get(r.path, h);
        if (r.method == "DELETE") return d.del(r.path, h);
        return d.post(r.path, r.body, h);
    };
    const std::string bad = "tkd_0123456789abcdef_" + std::string(32, 'A');
    for (const auto& r : routes) {
        SCOPED_TRACE(r.method + " " + r.path);
        expect_problem(call(r, {}), 401, "unauthenticated");
        const auto unknown = call(r, as(bad));
        expect_problem(unknown, 401, "unauthenticated");
        EXPECT_NE(unknown.header("WWW-Authenticate").value_or("").find("invalid_token"), std::string::npos);
        EXPECT_NE(call(r, as(expired)).body.find("expired"), std::string::npos);
        EXPECT_NE(call(r, as(revoked)).body.find("revoked"), std::string::npos);
        if (!r.scope.empty()) {
            const auto without = call(r, as(lacking[r.scope]));
            expect_problem(without, 403, "forbidden");
            EXPECT_EQ(without.json().value("scope", ""), r.scope);
        }
        if (r.owned) {
            EXPECT_EQ(call(r, as(payroll)).status, 404u) << "another principal's: as if it did not exist";
        }
        const auto right = call(r, as(billing));
        EXPECT_EQ(right.status, r.ok) << right.body;
    }
}

TEST_F(auth_test, a_revoked_key_is_refused_from_the_reload_on_even_on_an_open_connection) {
    const auto billing = create_key("billing", tenant);
    d.start();
    raw_connection c(d.port());
    const std::string request = "GET /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + billing + "\r\n\r\n";
    ASSERT_TRUE(c.send(request));
    std::string first;
    ASSERT_TRUE(eventually([&] { return (first += c.read_some(65536, 100ms)).find("\r\n\r\n{") != std::string::npos; }, 10s));
    EXPECT_EQ(first.rfind("HTTP/1.1 200", 0), 0u) << first;

    std::string out, id;
    std::string listed;
    ASSERT_EQ(run_ticketd({"keys", "list", "--config", (d.dir() / "ticketd.yaml").string()}, listed), 0);
    EXPECT_EQ(listed.find(billing.substr(4)), std::string::npos) << "a list never shows a secret";
    id = billing.substr(4, 16);
    EXPECT_NE(listed.find(id), std::string::npos) << listed;
    ASSERT_EQ(run_ticketd({"keys", "revoke", id, "--config", (d.dir() / "ticketd.yaml").string()}, out), 0) << out;
    EXPECT_EQ(d.get("/v1/jobs", as(billing)).status, 200u) << "revocation takes effect at the reload";
    reload();

    ASSERT_TRUE(c.send(request)) << "the connection stayed open";
    std::string second;
    ASSERT_TRUE(eventually([&] { return (second += c.read_some(65536, 100ms)).find("revoked") != std::string::npos; }, 10s))
        << second;
    EXPECT_EQ(second.rfind("HTTP/1.1 401", 0), 0u) << second;
    ASSERT_EQ(run_ticketd({"keys", "list", "--config", (d.dir() / "ticketd.yaml").string()}, listed), 0);
    EXPECT_NE(listed.find("revoked"), std::string::npos) << listed;
    EXPECT_EQ(run_ticketd({"keys", "revoke", "ffffffffffffffff", "--config", (d.dir() / "ticketd.yaml").string()}, out), 1);
}

// A refusal decided from the head keeps a connection whose request had no body (the next
// request on it is answered), and closes one whose body was never read (its bytes must
// not be taken for a request).
TEST_F(auth_test, a_refused_request_keeps_or_closes_its_connection_as_its_body_requires) {
    const auto billing = create_key("billing", tenant);
    d.start();
    raw_connection c(d.port());
    ASSERT_TRUE(c.send("GET /v1/jobs HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + billing + "\r\n\r\n"));
    std::string both;
    ASSERT_TRUE(eventually([&] { return (both += c.read_some(65536, 100ms)).find("HTTP/1.1 200") != std::string::npos; }, 10s))
        << both;
    EXPECT_EQ(both.rfind("HTTP/1.1 401", 0), 0u) << both;

    raw_connection post(d.port());
    const std::string smuggled = "GET /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + billing + "\r\n\r\n";
    ASSERT_TRUE(post.send("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled));
    const std::string answer = post.read_until_close(10s);
    EXPECT_EQ(answer.rfind("HTTP/1.1 401", 0), 0u) << answer;
    EXPECT_EQ(answer.find("HTTP/1.1 200"), std::string::npos) << "the unread body was not served as a request";

    // Two Authorization fields are malformed, even when one of them is right.
    const auto twice = d.get("/v1/jobs", {{"Authorization", "Bearer " + billing}, {"Authorization", "Bearer x"}});
    expect_problem(twice, 401, "unauthenticated");
}

TEST_F(auth_test, an_expired_key_says_so) {
    const auto brief = create_key("billing", tenant, "1s");
    d.start();
    // Valid now, expired within a second: the answer names the expiry.
    EXPECT_TRUE(eventually([&] {
        const auto r = d.get("/v1/jobs", as(brief));
        return r.status == 401 && r.body.find("expired") != std::string::npos;
    }, 10s));
}

TEST_F(auth_test, a_scope_narrowed_to_a_type_submits_only_that_type) {
    const auto reporter = create_key("billing", {"jobs:submit:hello", "jobs:read"});
    d.start();
    EXPECT_EQ(d.submit("hello", {{"name", "x"}}, as(reporter)).status, 202u);
    const auto other = d.submit("sleep", {{"ms", 1}}, as(reporter));
    expect_problem(other, 403, "forbidden");
    EXPECT_EQ(other.json()["scope"], "jobs:submit:sleep");
}

// One import type per tenant, each with its table allow-list and each tenant's key scoped
// to its own type: one tenant cannot write (or replace) another's table.
TEST(auth_tenants, one_import_type_per_tenant_keeps_their_tables_apart) {
    daemon_config_text c = keyed_config();
    for (const auto& [tenant, table] : {std::pair{"billing", "orders"}, {"payroll", "salaries"}}) {
        c.job_types[std::string("import-") + tenant + ".yaml"] =
            std::string("type: import-") + tenant + "\nplugin: @PLUGINS@/import.so\nsettings:\n"
            "  database: \"${state_dir}/warehouse.db\"\n  tables: [" + table + "]\n";
    }
    daemon_process d(c);
    const header_list billing = bearer(create_api_key(d, "billing", {"jobs:submit:import-billing", "uploads:write"}));
    d.start();
    header_list upload_headers = billing;
    upload_headers.emplace_back("Content-Type", "text/csv");
    const auto upload = d.post("/v1/uploads", "k\n1\n", upload_headers);
    ASSERT_EQ(upload.status, 201u) << upload.body;
    auto submit = [&](const std::string& type, const std::string& table) {
        header_list h = billing;
        h.emplace_back("Content-Type", "application/json");
        return d.post("/v1/jobs", nlohmann::json{{"type", type}, {"input", {{"table", table}, {"format", "csv"}, {"mode", "replace"}}},
                                                 {"files", {{"source", upload.member("id")}}}}.dump(), h);
    };
    const auto other_type = submit("import-payroll", "salaries");
    expect_problem(other_type, 403, "forbidden");
    EXPECT_EQ(other_type.json()["scope"], "jobs:submit:import-payroll");
    const auto other_table = submit("import-billing", "salaries");
    expect_problem(other_table, 400, "invalid-request");
    EXPECT_NE(other_table.body.find("orders"), std::string::npos) << other_table.body;
    EXPECT_EQ(submit("import-billing", "orders").status, 202u);
}

TEST(auth_start, a_public_address_without_authentication_is_refused_unless_allowed) {
    daemon_config_text open;
    open.listen = "0.0.0.0:0";
    daemon_process refused(open);
    std::string log;
    EXPECT_EQ(refused.start_expect_failure(log), 78);
    EXPECT_NE(log.find("auth.allow_unauthenticated"), std::string::npos) << log;

    open.top = "auth:\n  allow_unauthenticated: true\n";
    daemon_process allowed(open);
    allowed.start();
    EXPECT_EQ(allowed.get("/v1/jobs").status, 200u);

    daemon_config_text keyed = keyed_config();
    daemon_process no_keys(keyed);
    EXPECT_EQ(no_keys.start_expect_failure(log), 78);
    EXPECT_NE(log.find("ticketd keys create"), std::string::npos) << log;
}

TEST(auth_cli, refuses_what_it_cannot_write_correctly) {
    temp_dir dir{"ticketd-keys-cli"};
    const std::string file = (dir.path / "keys.yaml").string();
    std::string out;
    EXPECT_EQ(run_ticketd({"keys", "create", "--keys-file", file, "--principal", "billing", "--scope", "jobs:write"}, out), 2);
    EXPECT_NE(out.find("unknown scope 'jobs:write'"), std::string::npos) << out;
    EXPECT_EQ(run_ticketd({"keys", "create", "--keys-file", file, "--principal", "bad name", "--scope", "jobs:read"}, out), 2);
    EXPECT_EQ(run_ticketd({"keys", "create", "--keys-file", file, "--principal", "billing", "--scope", "jobs:read",
                           "--expires", "soon"}, out), 2);
    EXPECT_FALSE(std::filesystem::exists(file)) << "nothing written for a refused command";
    EXPECT_EQ(run_ticketd({"keys", "create", "--keys-file", file, "--principal", "billing", "--scope", "jobs:read"}, out), 0);
    EXPECT_TRUE(std::filesystem::exists(file));
}
