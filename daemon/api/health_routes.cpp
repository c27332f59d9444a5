// GET /healthz (the process answers), GET /readyz (it accepts jobs and can store them),
// GET /metrics (Prometheus' text format; also what the separate metrics listener serves).
#include "api/routes.hpp"
#include "metrics/daemon_metrics.hpp"

namespace ticketd::routes {

namespace {
http_response status_document(std::string_view status) {
    http_response res;
    res.set("Content-Type", "application/json").set("Cache-Control", "no-store");
    res.body = "{\"status\":\"" + std::string(status) + "\"}";
    return res;
}
}  // namespace

void healthz(const call_ptr& c, const std::string&) { c->respond(status_document("ok")); }

void readyz(const call_ptr& c, const std::string&) {
    if (!c->api.ready || !c->api.jobs.accepting()) return c->unavailable("ticketd is starting or draining", 1);
    if (const auto trouble = c->api.jobs.store_trouble(); !trouble.empty()) {
        return c->unavailable("the store cannot write: " + trouble, store_retry_after);
    }
    c->respond(status_document("ready"));
}

http_response metrics_response(const daemon_metrics& metrics) {
    http_response res;
    res.set("Content-Type", daemon_metrics::content_type).set("Cache-Control", "no-store");
    res.body = metrics.scrape();
    return res;
}

void metrics(const call_ptr& c, const std::string&) {
    const auto& m = c->api.config.metrics;
    if (!m.enabled || !m.listen_host.empty()) {  // not served on this listener
        return c->problem(404, "not-found", "no resource at " + c->req.path + "; see " + c->api.base_url + "/v1/jobs");
    }
    c->respond(metrics_response(c->api.metrics));
}

}  // namespace ticketd::routes
