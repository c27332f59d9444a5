// The API's routes (api/) against a job service in memory: the route table, the submit
// checks, how each outcome is answered, the protocol's headers.
#include "api/http_api.hpp"
#include "auth/authenticator.hpp"
#include "auth/quotas.hpp"
#include "config/config.hpp"
#include "jobs/job_service.hpp"
#include "metrics/daemon_metrics.hpp"
#include "uploads/upload_store.hpp"

#include "support/fake_job_store.hpp"
#include "support/records.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <deque>
#include <map>
#include <optional>

using namespace ticketd;
using namespace ticketd::test;
using json = nlohmann::json;

namespace {

const std::string job_id = "0123456789abcdef0123456789abcdef";

// Answers every call at once with what the test queued (or a default), and records it.
class fake_service final : public job_service {
   public:
    bool accepting() const override { return accepting_; }
    std::string store_trouble() const override { return trouble; }
    void submit(submit_request r, std::function<void(submit_outcome)> done) override {
        submits.push_back(r);
        done(submit_answer);
    }
    void get(const std::string& id, const caller& who, std::function<void(lookup_outcome)> done) override {
        gets.push_back(id);
        callers.push_back(who);
        done(lookup_answer);
    }
    std::optional<uint64_t> watch(const std::string& id, const caller&, const std::string& etag,
                                  std::chrono::milliseconds wait, std::function<void(lookup_outcome)> done) override {
        watches.push_back({id, etag, wait});
        done(lookup_answer);
        return 0;
    }
    void unwatch(const std::string&, uint64_t) override {}
    void cancel(const std::string&, const caller&, std::function<void(cancel_outcome)> done) override {
        done(cancel_answer);
    }
    void remove(const std::string&, const caller&, std::function<void(remove_status)> done) override {
        done(remove_answer);
    }
    void rerun(const std::string&, const caller&, uint64_t, std::function<void(rerun_outcome)> done) override {
        done({rerun_status::not_found, {}, {}});
    }
    void list(const job_query& q, std::function<void(std::vector<job_record>)> done) override {
        lists.push_back(q);
        done(list_answer);
    }
    std::vector<job_type_info> types() const override { return {}; }
    void pause(const std::string&, bool, std::function<void(pause_result)> done) override {
        done(pause_result::not_found);
    }
    std::filesystem::path result_path(const std::string& id) const override { return "/results/" + id; }
    void read_result(const std::string&, std::function<void(std::optional<std::string>)> done) override {
        done(result_answer);
    }

    bool accepting_ = true;
    std::string trouble;
    submit_outcome submit_answer;
    lookup_outcome lookup_answer;
    cancel_outcome cancel_answer;
    remove_status remove_answer = remove_status::removed_terminal;
    std::vector<job_record> list_answer;
    std::optional<std::string> result_answer;

    std::vector<submit_request> submits;
    std::vector<std::string> gets;
    struct watch_call {
        std::string id, etag;
        std::chrono::milliseconds wait;
    };
    std::vector<watch_call> watches;
    std::vector<job_query> lists;
    std::vector<caller> callers;  // of get()
};

template <auth_mode mode>
struct api_fixture : ::testing::Test {
    temp_dir dir{"ticketd-api"};
    daemon_config config;
    fake_job_store store;
    upload_store uploads{dir.path / "uploads", store, std::chrono::hours(1)};
    daemon_metrics metrics{"test"};
    fake_service service;
    authenticator auth{mode};
    quota_keeper quotas;
    http_api api{config, service, uploads, auth, quotas, metrics};

    api_fixture() {
        api.set_base_url("http://jobs.test");
        api.set_ready(true);
    }
    void TearDown() override { store.stop(); }

    http_response call(const std::string& method, const std::string& path, const std::string& body = "",
                       std::vector<std::pair<std::string, std::string>> headers = {},
                       std::vector<std::pair<std::string, std::string>> query = {}) {
        http_request r;
        r.method = method;
        r.path = path;
        r.target = path;
        r.body = body;
        r.headers = std::move(headers);
        r.query = std::move(query);
        r.request_id = "req-1";
        std::optional<http_response> out;
        api.handle(std::move(r), [&](http_response res) { out = std::move(res); });
        if (!out) throw std::runtime_error("no answer");
        return *out;
    }
    http_response post_job(const std::string& body, std::vector<std::pair<std::string, std::string>> headers = {}) {
        headers.emplace_back("content-type", "application/json");
        return call("POST", "/v1/jobs", body, std::move(headers));
    }
    static json problem(const http_response& res) {
        EXPECT_EQ(res.header("Content-Type"), "application/problem+json");
        return json::parse(res.body);
    }
};

using api_test = api_fixture<auth_mode::none>;

// The API with auth.mode api_keys: one key per credential a test sends.
struct keyed_api_test : api_fixture<auth_mode::api_keys> {
    std::map<std::string, std::string> tokens;  // name -> token

    keyed_api_test() {
        std::vector<api_key> keys;
        auto add = [&](const std::string& name, const std::string& principal, std::vector<std::string> scopes,
                       std::optional<unix_ms> expires = std::nullopt, bool revoked = false) {
            std::string error;
            auto k = issue_key(principal, scopes, *scope_set::parse(scopes, error), expires, now_unix_ms() - 1000);
            if (revoked) k.key.revoked_at = now_unix_ms() - 1;
            tokens[name] = k.token;
            keys.push_back(k.key);
        };
        const std::vector<std::string> all = {"jobs:submit", "jobs:read", "jobs:cancel", "uploads:write",
                                              "uploads:read", "metrics:read"};
        add("right", "billing", all);
        add("admin", "ops", {"admin"});
        add("expired", "billing", all, now_unix_ms() - 1);
        add("revoked", "billing", all, std::nullopt, true);
        add("report-only", "billing", {"jobs:submit:report", "jobs:read"});
        for (const auto& lacking : all) {
            std::vector<std::string> others;
            for (const auto& s : all) {
                if (s != lacking) others.push_back(s);
            }
            add("without " + lacking, "billing", others);
        }
        auth.set_keys(std::move(keys));
    }
    http_response as(const std::string& who, const std::string& method, const std::string& path,
                     const std::string& body = "", std::vector<std::pair<std::string, std::string>> query = {}) {
        std::vector<std::pair<std::string, std::string>> headers = {{"content-type", "application/json"}};
        if (who == "bad token") headers.emplace_back("authorization", "Bearer tkd_0123456789abcdef_0123456789ABCDEFGHIJabcdefghij01");
        else if (!who.empty()) headers.emplace_back("authorization", "Bearer " + tokens.at(who));
        return call(method, path, body, std::move(headers), std::move(query));
    }
};

job_record job(job_status status = job_status::queued) {
    auto r = queued_job(job_id, "hello");
    r.principal = "anonymous";
    r.status = status;
    return r;
}

}  // namespace

TEST_F(api_test, the_route_table_answers_unknown_paths_methods_and_ids) {
    const auto missing = call("GET", "/v1/nothing");
    EXPECT_EQ(missing.status, 404u);
    EXPECT_EQ(problem(missing)["code"], "not-found");

    const auto wrong = call("PUT", "/v1/jobs");
    EXPECT_EQ(wrong.status, 405u);
    EXPECT_EQ(wrong.header("Allow"), "GET, HEAD, POST");
    EXPECT_EQ(call("POST", "/v1/jobs/" + job_id).header("Allow"), "GET, HEAD, DELETE");
    EXPECT_EQ(call("GET", "/v1/jobs/" + job_id + "/cancel").header("Allow"), "POST");

    const auto bad_id = call("GET", "/v1/jobs/not-an-id");
    EXPECT_EQ(bad_id.status, 404u);
    EXPECT_EQ(problem(bad_id)["code"], "job-not-found");
    EXPECT_EQ(call("GET", "/v1/uploads/x").status, 404u);
    EXPECT_TRUE(service.gets.empty()) << "an id that cannot exist is not looked up";

    EXPECT_EQ(call("HEAD", "/healthz").status, 200u);
    EXPECT_EQ(call("GET", "/v1/jobs/" + job_id + "/result/more").status, 404u);
}

TEST_F(api_test, answers_are_counted_under_their_route_template) {
    call("GET", "/v1/jobs/" + job_id);
    call("GET", "/v1/jobs/" + job_id + "/x");
    const auto scrape = metrics.scrape();
    EXPECT_NE(scrape.find(R"(handler="/v1/jobs/{id}")"), std::string::npos);
    EXPECT_NE(scrape.find(R"(handler="other")"), std::string::npos);
    EXPECT_EQ(scrape.find(job_id), std::string::npos) << "no raw path in a label";
}

TEST_F(api_test, a_submit_reaches_the_service_as_plain_data) {
    service.submit_answer = {submit_status::accepted, job(), {}, {}, {}};
    const auto res = post_job(R"({"type":"hello","input":{"b":1, "a":[true]},"priority":5,"timeoutSeconds":30,)"
                              R"("labels":{"team":"x"},"files":{"in.wav":"0123456789abcdef0123456789abcdef"}})");
    ASSERT_EQ(res.status, 202u) << res.body;
    ASSERT_EQ(service.submits.size(), 1u);
    const auto& s = service.submits[0];
    EXPECT_EQ(s.type, "hello");
    EXPECT_EQ(s.input, R"({"a":[true],"b":1})") << "compact, keys sorted";
    EXPECT_EQ(s.priority, 5);
    EXPECT_EQ(s.timeout_ms, 30'000);
    EXPECT_EQ(s.labels, R"({"team":"x"})");
    EXPECT_EQ(s.files, (job_files{{"in.wav", "0123456789abcdef0123456789abcdef"}}));
    EXPECT_EQ(s.principal, "anonymous");
    EXPECT_TRUE(s.fingerprint.empty()) << "no key, no fingerprint";
    EXPECT_EQ(res.header("Location"), "http://jobs.test/v1/jobs/" + job_id);
    EXPECT_EQ(res.header("ETag"), job().etag());
    EXPECT_TRUE(res.header("Retry-After"));
    EXPECT_FALSE(res.header("Idempotent-Replayed"));
}

TEST_F(api_test, a_keyed_submit_has_a_fingerprint_and_a_replay_says_so) {
    service.submit_answer = {submit_status::replayed, job(), {}, {}, job_id};
    const auto res = post_job(R"({"type":"hello"})", {{"idempotency-key", "\"k-1\""}});
    EXPECT_EQ(res.status, 202u);
    EXPECT_EQ(res.header("Idempotent-Replayed"), "true");
    ASSERT_EQ(service.submits.size(), 1u);
    EXPECT_EQ(service.submits[0].idempotency_key, "k-1");
    EXPECT_EQ(service.submits[0].fingerprint.size(), 64u);
}

TEST_F(api_test, a_submit_the_api_refuses_never_reaches_the_service) {
    EXPECT_EQ(call("POST", "/v1/jobs", R"({"type":"hello"})").status, 415u);
    const auto not_json = post_job("{\"type\":");
    EXPECT_EQ(not_json.status, 400u);
    EXPECT_EQ(problem(not_json)["code"], "invalid-request");
    const auto members = post_job(R"({"type":"","priority":9223372036854775808,"color":"red"})");
    const auto errors = problem(members)["errors"];
    std::vector<std::string> pointers;
    for (const auto& e : errors) pointers.push_back(e["pointer"]);
    EXPECT_EQ(pointers, (std::vector<std::string>{"/color", "/priority", "/type"}));
    EXPECT_EQ(problem(post_job(R"({"type":"hello"})", {{"idempotency-key", "\"a\nb\""}}))["code"],
              "idempotency-key-invalid");
    EXPECT_TRUE(service.submits.empty());
}

TEST_F(api_test, every_submit_outcome_has_its_answer) {
    struct expected {
        submit_status status;
        unsigned http;
        std::string code;
        std::optional<std::string> retry_after;
    };
    for (const auto& e : std::vector<expected>{
             {submit_status::invalid_input, 400, "invalid-request", std::nullopt},
             {submit_status::unknown_type, 400, "unknown-job-type", std::nullopt},
             {submit_status::key_reused, 422, "idempotency-key-reused", std::nullopt},
             {submit_status::key_in_progress, 409, "idempotency-request-in-progress", "1"},
             {submit_status::key_job_deleted, 409, "idempotency-key-job-deleted", std::nullopt},
             {submit_status::unavailable, 503, "unavailable", "1"},
             {submit_status::store_unavailable, 503, "unavailable", "5"},
             {submit_status::internal, 500, "internal", std::nullopt},
         }) {
        service.submit_answer = {e.status, std::nullopt, {{"/input/x", "bad"}}, "why", job_id};
        const auto res = post_job(R"({"type":"hello"})");
        EXPECT_EQ(res.status, e.http) << e.code;
        EXPECT_EQ(problem(res)["code"], e.code);
        EXPECT_EQ(res.header("Retry-After") ? std::optional<std::string>(*res.header("Retry-After")) : std::nullopt,
                  e.retry_after)
            << e.code;
    }
    service.submit_answer = {submit_status::key_reused, std::nullopt, {}, "why", job_id};
    EXPECT_EQ(problem(post_job(R"({"type":"hello"})"))["jobId"], job_id);
    service.submit_answer = {submit_status::invalid_input, std::nullopt, {{"/input/x", "bad"}}, "why", ""};
    EXPECT_EQ(problem(post_job(R"({"type":"hello"})"))["errors"][0]["pointer"], "/input/x");
}

TEST_F(api_test, cancel_and_delete_answers) {
    service.cancel_answer = {cancel_status::canceled, job(job_status::canceled)};
    EXPECT_EQ(call("POST", "/v1/jobs/" + job_id + "/cancel").status, 200u);
    service.cancel_answer = {cancel_status::cancel_requested, job(job_status::running)};
    const auto requested = call("POST", "/v1/jobs/" + job_id + "/cancel");
    EXPECT_EQ(requested.status, 202u);
    EXPECT_EQ(requested.header("Retry-After"), "1");
    service.cancel_answer = {cancel_status::already_terminal, job(job_status::succeeded)};
    const auto done = call("POST", "/v1/jobs/" + job_id + "/cancel");
    EXPECT_EQ(done.status, 409u);
    EXPECT_EQ(problem(done)["jobStatus"], "succeeded");
    service.cancel_answer = {cancel_status::gone, std::nullopt};
    EXPECT_EQ(call("POST", "/v1/jobs/" + job_id + "/cancel").status, 410u);
    service.cancel_answer = {cancel_status::internal, std::nullopt};
    EXPECT_EQ(call("POST", "/v1/jobs/" + job_id + "/cancel").header("Retry-After"), "5");

    service.remove_answer = remove_status::removed_live;
    EXPECT_EQ(call("DELETE", "/v1/jobs/" + job_id).status, 202u);
    service.remove_answer = remove_status::removed_terminal;
    EXPECT_EQ(call("DELETE", "/v1/jobs/" + job_id).status, 204u);
    service.remove_answer = remove_status::not_found;
    EXPECT_EQ(call("DELETE", "/v1/jobs/" + job_id).status, 404u);
    EXPECT_EQ(call("DELETE", "/v1/jobs/" + job_id, "body").status, 400u);
}

TEST_F(api_test, a_job_document_redirects_when_done_and_long_polls_on_its_tag) {
    service.lookup_answer = {job(job_status::succeeded), false};
    const auto done = call("GET", "/v1/jobs/" + job_id);
    EXPECT_EQ(done.status, 303u);
    EXPECT_EQ(done.header("Location"), "http://jobs.test/v1/jobs/" + job_id + "/result");
    EXPECT_EQ(call("GET", "/v1/jobs/" + job_id, "", {{"if-none-match", job(job_status::succeeded).etag()}}).status,
              304u);

    service.lookup_answer = {job(job_status::running), false};
    const auto polled = call("GET", "/v1/jobs/" + job_id, "", {}, {{"wait", "90"}});
    EXPECT_EQ(polled.status, 200u);
    ASSERT_EQ(service.watches.size(), 1u);
    EXPECT_EQ(service.watches[0].wait, std::chrono::seconds(30)) << "capped at max_wait";
    EXPECT_EQ(service.watches[0].etag, "") << "without a tag: until the job ends";
    EXPECT_EQ(polled.header("Preference-Applied"), "wait=30");
    const auto tagged = call("GET", "/v1/jobs/" + job_id, "", {{"if-none-match", "W/" + job().etag()}}, {{"wait", "5"}});
    ASSERT_EQ(service.watches.size(), 2u);
    EXPECT_EQ(service.watches[1].etag, job().etag()) << "a weak tag is watched as the strong one";
    EXPECT_EQ(tagged.status, 304u) << "the fake answers with the same document";
    EXPECT_EQ(problem(call("GET", "/v1/jobs/" + job_id, "", {}, {{"wait", "-1"}}))["code"], "invalid-wait");

    service.lookup_answer = {std::nullopt, true};
    EXPECT_EQ(call("GET", "/v1/jobs/" + job_id).status, 410u);
}

TEST_F(api_test, a_result_is_served_whole_or_by_range_once_the_job_succeeded) {
    service.lookup_answer = {job(job_status::running), false};
    EXPECT_EQ(problem(call("GET", "/v1/jobs/" + job_id + "/result"))["code"], "result-not-ready");
    auto failed = job(job_status::failed);
    failed.error = std::make_shared<const job_error>(job_error{"job-failed", "Job failed", "no"});
    service.lookup_answer = {failed, false};
    EXPECT_EQ(problem(call("GET", "/v1/jobs/" + job_id + "/result"))["code"], "result-unavailable");

    auto done = finished(job());
    done.result_type = "text/plain";
    service.lookup_answer = {done, false};
    service.result_answer = "hello world";
    const auto whole = call("GET", "/v1/jobs/" + job_id + "/result");
    EXPECT_EQ(whole.status, 200u);
    EXPECT_EQ(whole.body, "hello world");
    const auto part = call("GET", "/v1/jobs/" + job_id + "/result", "", {{"range", "bytes=6-"}});
    EXPECT_EQ(part.status, 206u);
    EXPECT_EQ(part.body, "world");
    EXPECT_EQ(part.header("Content-Range"), "bytes 6-10/11");
    EXPECT_EQ(call("GET", "/v1/jobs/" + job_id + "/result", "", {{"range", "bytes=20-"}}).status, 416u);

    done.result_inline = false;
    done.result_size = 1000;
    service.lookup_answer = {done, false};
    const auto file = call("GET", "/v1/jobs/" + job_id + "/result");
    EXPECT_EQ(file.file_path, "/results/" + job_id);
}

TEST_F(api_test, readiness_follows_the_service_and_the_store) {
    api.set_ready(false);
    EXPECT_EQ(call("GET", "/readyz").status, 503u);
    api.set_ready(true);
    EXPECT_EQ(call("GET", "/readyz").status, 200u);
    service.trouble = "the disk is full";
    const auto full = call("GET", "/readyz");
    EXPECT_EQ(full.status, 503u);
    EXPECT_EQ(full.header("Retry-After"), "5");
    EXPECT_NE(problem(full)["detail"].get<std::string>().find("the disk is full"), std::string::npos);
}

TEST_F(api_test, a_page_of_jobs_carries_a_token_for_the_next) {
    auto a = job(), b = job();
    a.seq = 9;
    b.seq = 8;
    service.list_answer = {a, b};
    const auto res = call("GET", "/v1/jobs", "", {}, {{"pageSize", "1"}, {"status", "queued,failed"}});
    ASSERT_EQ(res.status, 200u) << res.body;
    ASSERT_EQ(service.lists.size(), 1u);
    EXPECT_EQ(service.lists[0].limit, 2u) << "one more tells whether there is a next page";
    EXPECT_EQ(service.lists[0].statuses, (std::vector<job_status>{job_status::queued, job_status::failed}));
    const auto page = json::parse(res.body);
    EXPECT_EQ(page["jobs"].size(), 1u);
    const std::string token = page["nextPageToken"];
    call("GET", "/v1/jobs", "", {}, {{"pageToken", token}});
    EXPECT_EQ(service.lists[1].before_seq, 9);
    EXPECT_EQ(problem(call("GET", "/v1/jobs", "", {}, {{"pageToken", "9.forged"}}))["code"], "invalid-page-token");
}

// Every route, with every kind of credential: the answer docs/security.md documents.
TEST_F(keyed_api_test, every_route_answers_each_credential_as_documented) {
    service.submit_answer = {submit_status::accepted, job(), {}, {}, {}};
    service.lookup_answer = {job(job_status::succeeded), false};
    service.cancel_answer = {cancel_status::canceled, job(job_status::canceled)};
    struct route_case {
        std::string method, path, scope;  // scope "": any valid key; "open": none needed
        std::string body = "";
    };
    const std::string job_path = "/v1/jobs/" + job_id, upload_path = "/v1/uploads/" + job_id;
    const std::vector<route_case> routes = {
        {"GET", "/healthz", "open"},
        {"GET", "/readyz", "open"},
        {"GET", "/metrics", "metrics:read"},
        {"GET", "/v1/jobs", "jobs:read"},
        {"POST", "/v1/jobs", "jobs:submit", R"({"type":"hello","input":{}})"},
        {"GET", job_path, "jobs:read"},
        {"HEAD", job_path, "jobs:read"},
        {"DELETE", job_path, "jobs:cancel"},
        {"GET", job_path + "/result", "jobs:read"},
        {"POST", job_path + "/cancel", "jobs:cancel"},
        {"GET", "/v1/job-types", ""},
        {"POST", "/v1/uploads", "uploads:write"},
        {"GET", upload_path, "uploads:read"},
        {"DELETE", upload_path, "uploads:write"},
        {"GET", "/v1/no-such-route", ""},
    };
    for (const auto& r : routes) {
        SCOPED_TRACE(r.method + " " + r.path);
        const bool open = r.scope == "open";
        for (const std::string who : {"", "bad token", "expired", "revoked"}) {
            const auto res = as(who, r.method, r.path, r.body);
            if (open) {
                EXPECT_EQ(res.status, 200u) << who;
                continue;
            }
            EXPECT_EQ(res.status, 401u) << who;
            if (r.method == "HEAD") continue;
            EXPECT_EQ(problem(res)["code"], "unauthenticated") << who;
            EXPECT_EQ(res.header("WWW-Authenticate"), who.empty() ? R"(Bearer realm="ticketd")"
                                                                   : R"(Bearer realm="ticketd", error="invalid_token")");
        }
        if (!r.scope.empty() && !open) {
            const auto res = as("without " + r.scope, r.method, r.path, r.body);
            EXPECT_EQ(res.status, 403u);
            if (r.method != "HEAD") {
                EXPECT_EQ(problem(res)["code"], "forbidden");
                EXPECT_EQ(problem(res)["scope"], r.scope);
            }
        }
        for (const std::string who : {"right", "admin"}) {
            const auto res = as(who, r.method, r.path, r.body);
            EXPECT_NE(res.status, 401u) << who;
            EXPECT_NE(res.status, 403u) << who << ": " << res.body;
        }
    }
    EXPECT_NE(problem(as("expired", "GET", "/v1/jobs"))["detail"].get<std::string>().find("expired"), std::string::npos);
    EXPECT_NE(problem(as("revoked", "GET", "/v1/jobs"))["detail"].get<std::string>().find("revoked"), std::string::npos);
}

TEST_F(keyed_api_test, a_caller_acts_as_its_principal_and_an_admin_as_everyone) {
    service.lookup_answer = {job(), false};
    as("right", "GET", "/v1/jobs/" + job_id);
    as("admin", "GET", "/v1/jobs/" + job_id);
    ASSERT_EQ(service.callers.size(), 2u);
    EXPECT_EQ(service.callers[0].principal, "billing");
    EXPECT_FALSE(service.callers[0].every_principal);
    EXPECT_EQ(service.callers[1].principal, "ops");
    EXPECT_TRUE(service.callers[1].every_principal);

    service.submit_answer = {submit_status::accepted, job(), {}, {}, {}};
    ASSERT_EQ(as("right", "POST", "/v1/jobs", R"({"type":"hello","input":{}})").status, 202u);
    EXPECT_EQ(service.submits.back().principal, "billing");

    as("right", "GET", "/v1/jobs");
    as("admin", "GET", "/v1/jobs");
    as("admin", "GET", "/v1/jobs", "", {{"principal", "billing"}});
    ASSERT_EQ(service.lists.size(), 3u);
    EXPECT_EQ(service.lists[0].principal, "billing");
    EXPECT_EQ(service.lists[1].principal, std::nullopt) << "an administrator lists every principal's jobs";
    EXPECT_EQ(service.lists[2].principal, "billing");
    const auto other = as("right", "GET", "/v1/jobs", "", {{"principal", "ops"}});
    EXPECT_EQ(other.status, 403u);
    EXPECT_EQ(problem(other)["scope"], "admin");
    EXPECT_EQ(service.lists.size(), 3u);
}

TEST_F(keyed_api_test, a_submit_scope_narrowed_to_types_admits_only_those) {
    service.submit_answer = {submit_status::accepted, job(), {}, {}, {}};
    const auto refused = as("report-only", "POST", "/v1/jobs", R"({"type":"hello","input":{}})");
    EXPECT_EQ(refused.status, 403u);
    EXPECT_EQ(problem(refused)["scope"], "jobs:submit:hello");
    EXPECT_TRUE(service.submits.empty()) << "nothing reaches the service";
    EXPECT_EQ(as("report-only", "POST", "/v1/jobs", R"({"type":"report","input":{}})").status, 202u);
    EXPECT_EQ(as("report-only", "DELETE", "/v1/jobs/" + job_id).status, 403u);
}

TEST_F(keyed_api_test, a_refusal_is_decided_before_the_body_is_read) {
    http_request head;
    head.method = "POST";
    head.path = head.target = "/v1/uploads";
    head.request_id = "req-2";
    const auto plan = api.plan_body(head);
    ASSERT_TRUE(plan.reject) << "an upload without a key is refused before a byte is stored";
    EXPECT_EQ(plan.reject->status, 401u);
    EXPECT_FALSE(plan.sink);
    head.headers = {{"authorization", "Bearer " + tokens.at("without uploads:write")}};
    ASSERT_TRUE(api.plan_body(head).reject);
    EXPECT_EQ(api.plan_body(head).reject->status, 403u);
    head.headers = {{"authorization", "Bearer " + tokens.at("right")}};
    const auto admitted = api.plan_body(head);
    EXPECT_FALSE(admitted.reject);
    EXPECT_TRUE(admitted.sink);
    EXPECT_TRUE(admitted.note) << "handle() is told what was decided";
}
