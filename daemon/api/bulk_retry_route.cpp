// POST /v1/jobs:retry: re-runs, in one request, the failed (or canceled) jobs a filter
// selects: for the day after an outage. Bounded by `limit`; answers how many were
// requeued, and why the others were not.
#include "api/access.hpp"
#include "api/client_json.hpp"
#include "api/outcome_problems.hpp"
#include "api/retry_filter.hpp"
#include "api/request_headers.hpp"
#include "api/routes.hpp"
#include "system/json_text.hpp"

#include <mutex>

namespace ticketd::routes {

namespace {

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
    if (const auto bad = read_retry_filter(body, c->who, c->api.config.max_retry_batch, q)) {
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
