// POST /v1/jobs:retry: re-runs, in one request, the failed (or canceled) jobs a filter
// selects: for the day after an outage. Bounded by `limit`; answers how many were
// requeued, and why the others were not.
#include "api/access.hpp"
#include "api/client_json.hpp"
#include "api/outcome_problems.hpp"
#include "api/request_headers.hpp"
#include "api/routes.hpp"
#include "system/json_text.hpp"

#include <mutex>

namespace ticketd::routes {

namespace {

constexpr unsigned default_limit = 100;
constexpr unsigned max_limit = 1000;

// What a filter member's problem is, for the 400's errors[].
struct filter_error {
    std::string pointer;
    std::string detail;
};

// The filter in the request body: the query it lists, or the first problem.
std::optional<filter_error> read_filter(const nlohmann::json& body, const caller& who, job_query& q) {
    q.statuses = {job_status::failed};
    q.limit = default_limit;
    for (const auto& [name, value] : body.items()) {
        if (name == "status") {
            const auto statuses = value.is_array() ? value : nlohmann::json::array({value});
            q.statuses.clear();
            for (const auto& s : statuses) {
                const auto st = s.is_string() ? parse_job_status(s.get<std::string>()) : std::nullopt;
                if (!st || (*st != job_status::failed && *st != job_status::canceled)) {
                    return filter_error{"/status", "failed, canceled, or a list of them"};
                }
                q.statuses.push_back(*st);
            }
            if (q.statuses.empty()) return filter_error{"/status", "failed, canceled, or a list of them"};
        } else if (name == "type" || name == "code" || name == "principal") {
            if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
                return filter_error{"/" + name, "a non-empty string"};
            }
            const auto& text = value.get_ref<const std::string&>();
            if (name == "type") q.type = text;
            else if (name == "code") q.error_code = text;
            else if (text != who.principal && !who.every_principal) return filter_error{"/principal", "forbidden"};
            else q.principal = text;
        } else if (name == "createdAfter" || name == "createdBefore") {
            const auto t = value.is_string() ? parse_rfc3339(value.get<std::string>()) : std::nullopt;
            if (!t) return filter_error{"/" + name, "an RFC 3339 time, e.g. 2026-01-31T12:00:00Z"};
            (name == "createdAfter" ? q.created_after : q.created_before) = *t;
        } else if (name == "limit") {
            if (!value.is_number_unsigned() || value.get<uint64_t>() < 1 || value.get<uint64_t>() > max_limit) {
                return filter_error{"/limit", "a whole number from 1 to " + std::to_string(max_limit)};
            }
            q.limit = value.get<unsigned>();
        } else {
            return filter_error{"/" + name,
                                "unknown member; use status, type, code, principal, createdAfter, createdBefore, limit"};
        }
    }
    if (!q.principal && !who.every_principal) q.principal = who.principal;
    return std::nullopt;
}

// The answers of the re-runs, gathered until the last one.
struct bulk_answer {
    std::mutex mutex;
    size_t left = 0;
    nlohmann::json requeued = nlohmann::json::array();
    nlohmann::json not_requeued = nlohmann::json::array();
};

void finish(const call_ptr& c, bulk_answer& a, size_t matched) {
    http_response res;
    res.set("Content-Type", "application/json");
    res.set("Cache-Control", "no-store");
    res.body = json_text(nlohmann::json{{"matched", matched},
                                        {"requeued", a.requeued.size()},
                                        {"jobs", std::move(a.requeued)},
                                        {"notRequeued", std::move(a.not_requeued)}});
    c->respond(std::move(res));
}

}  // namespace

void retry_jobs(const call_ptr& c, const std::string&) {
    const auto& req = c->req;
    nlohmann::json body = nlohmann::json::object();
    if (!req.body.empty()) {
        auto content_type = req.header("content-type");
        if (!content_type || !is_json_media_type(*content_type)) {
            return c->problem(415, "unsupported-media-type", "send the filter as Content-Type: application/json");
        }
        auto parsed = parse_client_json(req.body, c->api.config.server.max_json_depth);
        if (parsed.value.is_discarded() || !parsed.value.is_object()) {
            const std::string detail = parsed.value.is_discarded() ? parsed.detail : "the filter must be a JSON object";
            return c->problem(400, "invalid-request", detail,
                              {{"errors", nlohmann::json::array({{{"pointer", parsed.pointer}, {"detail", detail}}})}});
        }
        body = std::move(parsed.value);
    }
    job_query q;
    if (const auto bad = read_filter(body, c->who, q)) {
        if (bad->detail == "forbidden") {
            log_denied(c->api.config.auth.max_denied_log_lines, 403, "lacks admin", c->key.get(), "/v1/jobs:retry", req);
            return c->respond(forbidden(c->ctx, scope_name(scope::admin)));
        }
        return c->problem(400, "invalid-request", bad->pointer + ": " + bad->detail,
                          {{"errors", nlohmann::json::array({{{"pointer", bad->pointer}, {"detail", bad->detail}}})}});
    }
    c->api.jobs.list(q, [c](std::vector<job_record> rows) {
        auto answer = std::make_shared<bulk_answer>();
        const size_t matched = rows.size();
        answer->left = matched;
        if (matched == 0) return finish(c, *answer, 0);
        for (const auto& row : rows) {
            auto done = [c, answer, matched, id = row.id](rerun_outcome out) {
                std::unique_lock lock(answer->mutex);
                if (out.status == rerun_status::requeued) {
                    answer->requeued.push_back(id);
                } else {
                    answer->not_requeued.push_back(
                        {{"id", id}, {"code", rerun_problem_code(out)}, {"detail", out.detail}});
                }
                if (--answer->left > 0) return;
                lock.unlock();
                finish(c, *answer, matched);
            };
            if (!c->key->scopes.may_submit(row.type)) {  // a key limited to some types re-runs only those
                done({rerun_status::not_found, {}, "this key may not submit jobs of type '" + row.type + "'"});
                continue;
            }
            c->api.jobs.rerun(row.id, c->who, c->limits().max_live_jobs, std::move(done));
        }
    });
}

}  // namespace ticketd::routes
