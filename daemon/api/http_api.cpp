#include "api/http_api.hpp"

#include "api/access.hpp"
#include "api/routes.hpp"
#include "metrics/daemon_metrics.hpp"
#include "system/log.hpp"
#include "system/random_id.hpp"
#include "system/time.hpp"

#include <array>
#include <chrono>
#include <optional>

namespace ticketd {

namespace {

using handler_fn = void (*)(const call_ptr&, const std::string& id);

// What a method of a route asks of the caller's key: a scope, or only a valid key.
struct need {
    handler_fn handler = nullptr;
    std::optional<scope> needed = std::nullopt;
};
constexpr need any_key(handler_fn h) { return {h, std::nullopt}; }

// One path template: the label its answers are counted under, and its handler and scope
// per method (GET also answers HEAD). `{id}` matches one path segment; the handler is
// called only when it looks like one of ticketd's ids, else the route's not-found answers.
// An `open` route needs no key (health checks).
struct route {
    std::string_view path;
    need get = {}, post = {}, del = {};
    void (api_call::*not_found)() const = nullptr;  // for an {id} that cannot exist
    bool open = false;
};

constexpr std::array routes_table{
    route{"/healthz", any_key(routes::healthz), {}, {}, nullptr, true},
    route{"/readyz", any_key(routes::readyz), {}, {}, nullptr, true},
    route{"/metrics", {routes::metrics, scope::metrics_read}},
    route{"/v1/jobs", {routes::list_jobs, scope::jobs_read}, {routes::submit_job, scope::jobs_submit}},
    route{"/v1/jobs/{id}", {routes::get_job, scope::jobs_read}, {}, {routes::delete_job, scope::jobs_cancel},
          &api_call::not_found_job},
    route{"/v1/jobs/{id}/result", {routes::get_result, scope::jobs_read}, {}, {}, &api_call::not_found_job},
    route{"/v1/jobs/{id}/cancel", {}, {routes::cancel_job, scope::jobs_cancel}, {}, &api_call::not_found_job},
    // The key must also be allowed to submit the job's type (jobs:submit:<type>), checked there.
    route{"/v1/jobs/{id}/retry", {}, {routes::retry_job, scope::jobs_submit}, {}, &api_call::not_found_job},
    route{"/v1/jobs:retry", {}, {routes::retry_jobs, scope::jobs_submit}},
    route{"/v1/job-types", any_key(routes::list_job_types)},
    route{"/v1/job-types/{id}/pause", {}, {routes::pause_job_type, scope::admin}},  // {id}: the type's name
    route{"/v1/job-types/{id}/resume", {}, {routes::resume_job_type, scope::admin}},
    route{"/v1/uploads", {}, {routes::create_upload, scope::uploads_write}},
    route{"/v1/uploads/{id}", {routes::get_upload, scope::uploads_read}, {},
          {routes::delete_upload, scope::uploads_write}, &api_call::not_found_upload},
};
constexpr size_t other_route = routes_table.size();  // the label of paths no route has
static_assert(other_route < daemon_metrics::max_http_routes);

// The route whose template `path` fits (other_route: none), and its {id}.
size_t match(std::string_view path, std::string& id) {
    for (size_t i = 0; i < routes_table.size(); ++i) {
        const std::string_view pattern = routes_table[i].path;
        const auto at = pattern.find("{id}");
        if (at == std::string_view::npos) {
            if (path == pattern) return i;
            continue;
        }
        const auto prefix = pattern.substr(0, at), suffix = pattern.substr(at + 4);
        if (path.size() < prefix.size() + suffix.size() || !path.starts_with(prefix) || !path.ends_with(suffix)) {
            continue;
        }
        const auto segment = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
        if (segment.find('/') != std::string_view::npos) continue;
        id.assign(segment);
        return i;
    }
    return other_route;
}

std::string_view label_of(size_t route) { return route < routes_table.size() ? routes_table[route].path : "other"; }

std::string allowed(const route& r) {
    std::string out;
    for (const auto& [n, methods] : {std::pair{r.get, "GET, HEAD"}, {r.del, "DELETE"}, {r.post, "POST"}}) {
        if (n.handler) out += (out.empty() ? "" : ", ") + std::string(methods);
    }
    return out;
}

const need& need_of(const route& r, const std::string& method) {
    static constexpr need none{};
    return method == "GET" || method == "HEAD" ? r.get
           : method == "POST"                  ? r.post
           : method == "DELETE"                ? r.del
                                               : none;
}

// What was decided about a request from its head alone: its route and {id}, and either
// the key it acts with or the answer that refuses it (401, 403, 404, 405).
struct admission {
    size_t route = other_route;
    std::string id;
    std::shared_ptr<const api_key> key;
    std::optional<http_response> refusal;
    std::shared_ptr<const quotas_config> limits;  // the quotas in force when it arrived
    std::vector<std::pair<std::string, std::string>> rate_fields;  // RateLimit-Policy and RateLimit, on a submit's answer
};

// A submit's token from its principal's bucket (quotas: submit_rate), decided with the
// head: a refused submit's body is never read and nothing is stored.
void take_submit_token(api_context& api, const http_request& head, admission& a) {
    const auto decision = api.quotas.take_submit(a.key->principal, a.limits->of(a.key->principal));
    if (!decision) return;
    a.rate_fields = {{"RateLimit-Policy", "\"submit\";q=" + std::to_string(decision->burst) +
                                              ";w=" + std::to_string(decision->window_s)},
                     {"RateLimit", "\"submit\";r=" + std::to_string(decision->remaining) +
                                       ";t=" + std::to_string(decision->reset_s)}};
    if (decision->allowed) return;
    count_quota_refusal(api.metrics, *a.limits, a.key->principal, "rate_limited");
    a.refusal = make_problem({api.base_url, head.path, head.request_id}, 429, "rate-limited",
                             "principal '" + a.key->principal + "' may submit " + std::to_string(decision->burst) +
                                 " jobs at once and then at its rate (quotas: submit_rate); retry after " +
                                 std::to_string(decision->retry_after_s) + " s");
    a.refusal->set("Retry-After", std::to_string(decision->retry_after_s));
    for (const auto& [name, value] : a.rate_fields) a.refusal->set(name, value);
}

admission admit(api_context& api, const http_request& head) {
    admission a;
    a.route = match(head.path, a.id);
    const problem_context ctx{api.base_url, head.path, head.request_id};
    // The method is checked once the caller is known, except on the open routes.
    auto method_refused = [&] {
        const route& r = routes_table[a.route];
        if (need_of(r, head.method).handler != nullptr) return false;
        a.refusal = make_problem(ctx, 405, "method-not-allowed", "use " + allowed(r) + " on " + head.path);
        a.refusal->set("Allow", allowed(r));
        return true;
    };
    if (a.route != other_route && routes_table[a.route].open) {
        method_refused();
        return a;
    }
    auto result = authenticate(api.auth, api.config.auth, head);
    if (result.failure != auth_failure::none) {
        a.refusal = unauthenticated(ctx, result.failure);
        log_denied(api.config.auth.max_denied_log_lines, status_of(result.failure), to_string(result.failure),
                   result.key.get(), label_of(a.route), head);
        return a;
    }
    a.key = std::move(result.key);
    if (a.route == other_route) {
        a.refusal = make_problem(ctx, 404, "not-found", "no resource at " + head.path + "; see " + api.base_url + "/v1/jobs");
        return a;
    }
    if (method_refused()) return a;
    const need& n = need_of(routes_table[a.route], head.method);
    // jobs:submit:<type> admits a submit too; its type is checked once the body is read.
    const bool narrowed_submit = n.needed == scope::jobs_submit && a.key->scopes.may_submit_some_type();
    if (n.needed && !a.key->scopes.has(*n.needed) && !narrowed_submit) {
        a.refusal = forbidden(ctx, scope_name(*n.needed));
        log_denied(api.config.auth.max_denied_log_lines, 403, "lacks " + std::string(scope_name(*n.needed)), a.key.get(),
                   label_of(a.route), head);
        return a;
    }
    a.limits = api.quotas.limits();
    if (n.needed == scope::jobs_submit) take_submit_token(api, head, a);
    return a;
}

}  // namespace

http_api::http_api(const daemon_config& config, job_service& jobs, upload_store& uploads, const authenticator& auth,
                   quota_keeper& quotas,
                   daemon_metrics& metrics)
    : api_(new api_context{config, jobs, uploads, auth, quotas, metrics, {}, {}}) {}

http_api::~http_api() = default;

void http_api::set_base_url(std::string base_url) { api_->base_url = std::move(base_url); }

void http_api::set_ready(bool ready) { api_->ready = ready; }

void http_api::handle(http_request request, respond_fn respond) {
    // Decided when the head arrived (plan_body), or now for a caller that skipped it.
    auto decided = std::static_pointer_cast<const admission>(std::move(request.handler_note));
    if (!decided) decided = std::make_shared<const admission>(admit(*api_, request));
    const admission& a = *decided;
    const size_t r = a.route;
    auto c = std::make_shared<api_call>(api_call{*api_, {}, {}, {api_->base_url, request.path, request.request_id},
                                                 request.method == "HEAD", a.key, {}, a.limits});
    // Every answer is counted and timed by route template, method and status (and a
    // rate-limited principal's submit carries its RateLimit fields).
    c->respond = [this, r, respond = std::move(respond), method = request.method, rate_fields = a.rate_fields,
                  start = std::chrono::steady_clock::now()](http_response res) {
        for (const auto& [name, value] : rate_fields) {
            if (!res.header(name)) res.set(name, value);
        }
        api_->metrics.observe_http(r, label_of(r), method, res.status,
                                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        respond(std::move(res));
    };
    c->req = std::move(request);
    if (a.refusal) return c->respond(*a.refusal);
    const route& route = routes_table[r];
    if (route.open) return need_of(route, c->req.method).handler(c, a.id);
    c->who = {c->key->principal, c->key->scopes.admin()};
    if (c->who.every_principal && api_->auth.mode() != auth_mode::none) {
        log_info("auth: admin " + c->who.principal + " (key " + c->key->id + "): " + c->req.method + " " + c->req.path +
                 ", request " + c->req.request_id);
    }
    if (route.not_found && !is_random_id(a.id)) return ((*c).*route.not_found)();
    need_of(route, c->req.method).handler(c, a.id);
}

body_plan http_api::plan_body(const http_request& head) {
    auto a = std::make_shared<admission>(admit(*api_, head));
    body_plan plan;
    if (a->refusal) {
        api_->metrics.observe_http(a->route, label_of(a->route), head.method, a->refusal->status, 0.0);
        plan.reject = std::make_shared<http_response>(std::move(*a->refusal));
        return plan;
    }
    if (a->key && a->limits) plan = routes::plan_upload_body(*api_, head, a->key->principal, a->limits->of(a->key->principal));
    plan.note = std::move(a);
    return plan;
}

http_response http_api::protocol_error(unsigned status, std::string_view code, std::string_view detail,
                                       const std::string& request_id) {
    auto res = make_problem({api_->base_url, "", request_id}, status, code, detail);
    if (status == 503) res.set("Retry-After", "1");
    return res;
}

}  // namespace ticketd
