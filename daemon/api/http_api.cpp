#include "api/http_api.hpp"

#include "api/routes.hpp"
#include "metrics/daemon_metrics.hpp"
#include "system/random_id.hpp"

#include <array>
#include <chrono>

namespace ticketd {

namespace {

using handler_fn = void (*)(const call_ptr&, const std::string& id);

// One path template: the label its answers are counted under, and its handler per
// method (GET also answers HEAD). `{id}` matches one path segment; the handler is called
// only when it looks like one of ticketd's ids, else the route's not-found answers.
struct route {
    std::string_view path;
    handler_fn get = nullptr, post = nullptr, del = nullptr;
    void (api_call::*not_found)() const = nullptr;  // for an {id} that cannot exist
};

constexpr std::array routes_table{
    route{"/healthz", routes::healthz},
    route{"/readyz", routes::readyz},
    route{"/metrics", routes::metrics},
    route{"/v1/jobs", routes::list_jobs, routes::submit_job},
    route{"/v1/jobs/{id}", routes::get_job, nullptr, routes::delete_job, &api_call::not_found_job},
    route{"/v1/jobs/{id}/result", routes::get_result, nullptr, nullptr, &api_call::not_found_job},
    route{"/v1/jobs/{id}/cancel", nullptr, routes::cancel_job, nullptr, &api_call::not_found_job},
    route{"/v1/job-types", routes::list_job_types},
    route{"/v1/uploads", nullptr, routes::create_upload},
    route{"/v1/uploads/{id}", routes::get_upload, nullptr, routes::delete_upload, &api_call::not_found_upload},
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
    for (const auto& [handler, methods] : {std::pair{r.get, "GET, HEAD"}, {r.del, "DELETE"}, {r.post, "POST"}}) {
        if (handler) out += (out.empty() ? "" : ", ") + std::string(methods);
    }
    return out;
}

}  // namespace

http_api::http_api(const daemon_config& config, job_service& jobs, upload_store& uploads, daemon_metrics& metrics)
    : api_(new api_context{config, jobs, uploads, metrics, {}, {}}) {}

http_api::~http_api() = default;

void http_api::set_base_url(std::string base_url) { api_->base_url = std::move(base_url); }

void http_api::set_ready(bool ready) { api_->ready = ready; }

void http_api::handle(http_request request, respond_fn respond) {
    std::string id;
    const size_t r = match(request.path, id);
    auto c = std::make_shared<api_call>(api_call{*api_, {}, {}, {api_->base_url, request.path, request.request_id},
                                                 request.method == "HEAD"});
    // Every answer is counted and timed by route template, method and status.
    c->respond = [this, r, respond = std::move(respond), method = request.method,
                  start = std::chrono::steady_clock::now()](http_response res) {
        api_->metrics.observe_http(r, label_of(r), method, res.status,
                                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        respond(std::move(res));
    };
    c->req = std::move(request);
    if (r == other_route) {
        return c->problem(404, "not-found", "no resource at " + c->req.path + "; see " + api_->base_url + "/v1/jobs");
    }
    const route& route = routes_table[r];
    const std::string& method = c->req.method;
    const handler_fn handler = method == "GET" || method == "HEAD" ? route.get
                               : method == "POST"                  ? route.post
                               : method == "DELETE"                ? route.del
                                                                   : nullptr;
    if (handler == nullptr) {
        auto res = make_problem(c->ctx, 405, "method-not-allowed", "use " + allowed(route) + " on " + c->req.path);
        res.set("Allow", allowed(route));
        return c->respond(std::move(res));
    }
    if (route.not_found && !is_random_id(id)) return ((*c).*route.not_found)();
    handler(c, id);
}

body_plan http_api::plan_body(const http_request& head) { return routes::plan_upload_body(*api_, head); }

http_response http_api::protocol_error(unsigned status, std::string_view code, std::string_view detail,
                                       const std::string& request_id) {
    auto res = make_problem({api_->base_url, "", request_id}, status, code, detail);
    if (status == 503) res.set("Retry-After", "1");
    return res;
}

}  // namespace ticketd
