// POST /v1/jobs, GET /v1/jobs/{id} (with long-polls), POST /v1/jobs/{id}/cancel,
// POST /v1/jobs/{id}/retry, DELETE /v1/jobs/{id}.
#include "api/access.hpp"
#include "api/job_document.hpp"
#include "api/outcome_problems.hpp"
#include "api/request_headers.hpp"
#include "api/routes.hpp"
#include "api/submit_parser.hpp"

#include <algorithm>

namespace ticketd::routes {

namespace {

http_response job_response(const api_context& api, unsigned status, const job_record& job) {
    http_response res;
    res.status = status;
    res.set("Content-Type", "application/json");
    res.set("ETag", job.etag());
    res.body = job_document(job, api.base_url);
    return res;
}

// A long-poll's waiter goes as soon as its client does.
void release_if_client_leaves(const api_call& c, const std::string& job_id, uint64_t waiter_id) {
    if (waiter_id == 0) return;  // answered at once
    c.req.client_gone->on_gone([&jobs = c.api.jobs, job_id, waiter_id] { jobs.unwatch(job_id, waiter_id); });
}

long max_wait_seconds(const api_context& api) { return static_cast<long>(api.config.server.max_wait.count() / 1000); }

}  // namespace

void submit_job(const call_ptr& c, const std::string&) {
    const auto& req = c->req;
    auto content_type = req.header("content-type");
    if (!content_type || !is_json_media_type(*content_type)) {
        return c->problem(415, "unsupported-media-type", "send the job as Content-Type: application/json");
    }
    std::string key;
    switch (parse_idempotency_key(req, key)) {
        case key_parse::invalid:
            return c->problem(400, "idempotency-key-invalid",
                              "Idempotency-Key must be sent once, 1-255 visible ASCII characters, "
                              "as a quoted string (\"abc\") or a bare token");
        case key_parse::absent:
            if (c->api.config.require_idempotency_key) {
                return c->problem(400, "idempotency-key-missing",
                                  "this server requires an Idempotency-Key header on POST /v1/jobs");
            }
            break;
        case key_parse::ok: break;
    }
    submit_body body = parse_submit_body(req.body, c->api.config.server.max_json_depth);
    if (!body.errors.empty()) {
        return c->problem(400, "invalid-request", body.detail, {{"errors", errors_json(body.errors)}});
    }
    submit_request s = std::move(body.request);
    if (body.run_at || body.delay_ms) {
        const unix_ms now = now_unix_ms();
        s.run_at = body.run_at ? *body.run_at : now + *body.delay_ms;
        const int64_t ahead = c->api.config.max_schedule_ahead.count();
        if (s.run_at - now > ahead) {
            const std::string pointer = body.run_at ? "/runAt" : "/delaySeconds";
            const std::string detail = "at most " + std::to_string(ahead / 1000) + " s from now (jobs.max_schedule_ahead)";
            return c->problem(400, "invalid-request", pointer + ": " + detail,
                              {{"errors", errors_json({{pointer, detail}})}});
        }
    }
    if (!c->key->scopes.may_submit(s.type)) {
        // A type no job type could have is not echoed (nor logged): it is the client's text.
        const std::string needed = std::string(scope_name(scope::jobs_submit)) + ":" +
                                   (is_type_name(s.type) ? s.type : std::string("TYPE"));
        log_denied(c->api.config.auth.max_denied_log_lines, 403, "lacks " + needed, c->key.get(), "/v1/jobs", req);
        return c->respond(forbidden(c->ctx, needed));
    }
    const principal_limits& limits = c->limits();
    if (s.priority > limits.max_priority) {
        count_quota_refusal(c->api.metrics, *c->limits_of_call, c->who.principal, "priority");
        return c->problem(403, "quota-exceeded",
                          "priority " + std::to_string(s.priority) + " is above this principal's maximum, " +
                              std::to_string(limits.max_priority) + " (quotas: max_priority)",
                          {{"errors", errors_json({{"/priority", "at most " + std::to_string(limits.max_priority)}})}});
    }
    s.max_live_jobs = limits.max_live_jobs;
    s.principal = c->who.principal;
    s.idempotency_key = key;
    if (!key.empty()) s.fingerprint = submit_fingerprint(body, req.query);
    const std::optional<long> wait = prefer_wait(req);
    const long max_wait_s = max_wait_seconds(c->api);

    c->api.jobs.submit(std::move(s), [c, wait, max_wait_s](submit_outcome out) {
        if (out.status == submit_status::over_quota) {
            count_quota_refusal(c->api.metrics, *c->limits_of_call, c->who.principal, "live_jobs");
        }
        if (answer_problem(*c, out)) return;
        const bool replayed = out.status == submit_status::replayed;
        auto answer = [c, replayed](const job_record& job, std::optional<long> applied) {
            auto res = job_response(c->api, 202, job);
            const auto urls = urls_of(c->api.base_url, job.id);
            res.set("Location", urls.self);
            res.set("Content-Location", urls.self);
            res.set("Operation-Location", urls.self + "?redirect=false");
            res.set("Cache-Control", "no-store");
            if (!is_terminal(job.status)) res.set("Retry-After", std::to_string(retry_after_seconds(job)));
            if (replayed) res.set("Idempotent-Replayed", "true");
            if (applied) {
                res.set("Preference-Applied", "wait=" + std::to_string(*applied));
                res.set("Vary", "Prefer");
            }
            c->respond(std::move(res));
        };
        const job_record& job = *out.job;
        if (!wait || *wait <= 0 || is_terminal(job.status)) {
            return answer(job, wait ? std::optional<long>(std::min(*wait, max_wait_s)) : std::nullopt);
        }
        const long applied = std::min(*wait, max_wait_s);
        const auto waiter = c->api.jobs.watch(job.id, c->who, "", std::chrono::seconds(applied),
                                              [answer, job, applied](lookup_outcome now) {
                                                  answer(now.job ? *now.job : job, applied);
                                              });
        if (!waiter) return answer(job, std::nullopt);
        release_if_client_leaves(*c, job.id, *waiter);
    });
}

void get_job(const call_ptr& c, const std::string& id) {
    const auto& req = c->req;
    std::optional<long> wait;
    if (auto q = req.query_param("wait")) {
        long v = 0;
        if (!parse_whole_number(*q, v) || v < 0) {
            return c->problem(400, "invalid-wait", "wait must be a whole number of seconds, e.g. ?wait=30");
        }
        wait = v;
    } else {
        wait = prefer_wait(req);
    }
    const bool redirect = req.query_param("redirect") != "false";
    const std::optional<long> applied =
        wait ? std::optional<long>(std::min(*wait, max_wait_seconds(c->api))) : std::nullopt;

    auto answer = [c, redirect, applied](lookup_outcome out) {
        if (out.gone) return c->gone_job();
        if (!out.job) return c->not_found_job();
        const job_record& job = *out.job;
        http_response res;
        if (if_none_match(c->req, job.etag())) {
            res.status = 304;
            res.set("ETag", job.etag());
        } else if (job.status == job_status::succeeded && redirect) {
            res = job_response(c->api, 303, job);
            res.set("Location", urls_of(c->api.base_url, job.id).result);
        } else {
            res = job_response(c->api, 200, job);
        }
        res.set("Cache-Control", "no-cache");
        if (!is_terminal(job.status)) {
            // After a long-poll that ran to its deadline the client may ask again at once.
            const bool waited_out = applied && *applied > 0;
            res.set("Retry-After", waited_out ? "0" : std::to_string(retry_after_seconds(job)));
        }
        if (applied) {
            res.set("Preference-Applied", "wait=" + std::to_string(*applied));
            res.set("Vary", "Prefer");
        }
        c->respond(std::move(res));
    };

    if (!applied || *applied == 0) return c->api.jobs.get(id, c->who, answer);
    std::string etag;
    if (auto inm = req.header("if-none-match")) etag = std::string(*inm);
    // The service compares tags exactly: normalise a weak or listed tag to the strong one
    // by looking at the current document first.
    c->api.jobs.get(id, c->who, [c, id, etag, applied, answer](lookup_outcome now) {
        if (!now.job || is_terminal(now.job->status)) return answer(std::move(now));
        std::string watch_etag;
        if (!etag.empty()) {
            if (!if_none_match(c->req, now.job->etag())) return answer(std::move(now));
            watch_etag = now.job->etag();
        }
        const auto waiter =
            c->api.jobs.watch(id, c->who, watch_etag, std::chrono::seconds(*applied), answer);
        if (!waiter) return c->unavailable("too many clients are waiting; poll again later", 1);
        release_if_client_leaves(*c, id, *waiter);
    });
}

void cancel_job(const call_ptr& c, const std::string& id) {
    c->api.jobs.cancel(id, c->who, [c](cancel_outcome out) {
        if (answer_problem(*c, out)) return;
        if (out.status == cancel_status::canceled) {
            auto res = job_response(c->api, 200, *out.job);
            res.set("Cache-Control", "no-store");
            return c->respond(std::move(res));
        }
        auto res = job_response(c->api, 202, *out.job);  // cancel_requested: it stops soon
        res.set("Location", urls_of(c->api.base_url, out.job->id).self);
        res.set("Retry-After", "1");
        res.set("Cache-Control", "no-store");
        c->respond(std::move(res));
    });
}

void retry_job(const call_ptr& c, const std::string& id) {
    if (!c->req.body.empty() && c->req.body != "{}") {
        return c->problem(400, "invalid-request", "POST /v1/jobs/{id}/retry takes no body (or {})");
    }
    // The key must be allowed to submit jobs of this job's type: the type is read first.
    c->api.jobs.get(id, c->who, [c, id](lookup_outcome found) {
        if (found.gone) return c->gone_job();
        if (!found.job) return c->not_found_job();
        if (!c->key->scopes.may_submit(found.job->type)) {
            const std::string needed = std::string(scope_name(scope::jobs_submit)) + ":" + found.job->type;
            log_denied(c->api.config.auth.max_denied_log_lines, 403, "lacks " + needed, c->key.get(),
                       "/v1/jobs/{id}/retry", c->req);
            return c->respond(forbidden(c->ctx, needed));
        }
        c->api.jobs.rerun(id, c->who, c->limits().max_live_jobs, [c](rerun_outcome out) {
            if (out.status == rerun_status::over_quota) {
                count_quota_refusal(c->api.metrics, *c->limits_of_call, c->who.principal, "live_jobs");
            }
            if (answer_problem(*c, out)) return;
            auto res = job_response(c->api, 202, *out.job);
            res.set("Location", urls_of(c->api.base_url, out.job->id).self);
            res.set("Retry-After", std::to_string(retry_after_seconds(*out.job)));
            res.set("Cache-Control", "no-store");
            c->respond(std::move(res));
        });
    });
}

void delete_job(const call_ptr& c, const std::string& id) {
    if (!c->req.body.empty()) return c->problem(400, "invalid-request", "DELETE takes no body");
    c->api.jobs.remove(id, c->who, [c](remove_status status) {
        if (answer_problem(*c, status)) return;
        http_response res;
        res.status = status == remove_status::removed_live ? 202 : 204;
        c->respond(std::move(res));
    });
}

}  // namespace ticketd::routes
