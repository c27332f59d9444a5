// POST /v1/uploads (the body streams to disk through plan_upload_body's sink), and
// GET, HEAD, DELETE /v1/uploads/{id}.
#include "api/access.hpp"
#include "api/job_document.hpp"
#include "api/outcome_problems.hpp"
#include "api/routes.hpp"
#include "system/json_text.hpp"
#include "system/log.hpp"
#include "system/media_type.hpp"

#include <algorithm>
#include <charconv>

namespace ticketd::routes {

body_plan plan_upload_body(api_context& api, const http_request& head, const std::string& principal,
                           const principal_limits& limits) {
    if (head.path != "/v1/uploads" || head.method != "POST") return {};
    body_plan plan;
    const problem_context ctx{api.base_url, head.path, head.request_id};
    const auto content_type = head.header("content-type");
    if (content_type && !is_media_type(*content_type)) {
        plan.reject = std::make_shared<http_response>(make_problem(
            ctx, 400, "invalid-request",
            "Content-Type '" + std::string(*content_type) + "' is not a media type such as audio/wav"));
        return plan;
    }
    if (!api.jobs.accepting()) {
        auto res = make_problem(ctx, 503, "unavailable", "ticketd is starting or shutting down");
        res.set("Retry-After", "1");
        plan.reject = std::make_shared<http_response>(std::move(res));
        return plan;
    }
    uint64_t limit = api.config.uploads.max_bytes;
    std::shared_ptr<void> reservation;
    if (limits.max_upload_bytes > 0) {
        // The principal's quota: an upload of known length reserves its length; one sent
        // chunked reserves what is left (its body limit), so that uploads arriving at once
        // cannot together pass the quota.
        const uint64_t quota = limits.max_upload_bytes;
        const auto length = head.header("content-length");
        uint64_t announced = 0;
        const bool known = length && std::from_chars(length->data(), length->data() + length->size(), announced).ec == std::errc();
        uint64_t held = 0;
        if (known) {
            reservation = api.uploads.reserve(principal, announced, quota, held);
        } else if (api.uploads.reserve(principal, 0, quota, held) && held < quota) {
            reservation = api.uploads.reserve(principal, std::min(limit, quota - held), quota, held);
        }
        if (!reservation) {
            // Larger than the whole quota: no retry helps (403); else when uploads are gone (429).
            const bool never = known && announced > quota;
            auto res = make_problem(ctx, never ? 403 : 429, "quota-exceeded",
                                    "principal '" + principal + "' holds " + std::to_string(held) + " bytes of uploads, of " +
                                        std::to_string(limits.max_upload_bytes) +
                                        " it may hold (quotas: max_upload_bytes); delete uploads it no longer needs");
            if (!never) res.set("Retry-After", "60");
            count_quota_refusal(api.metrics, *api.quotas.limits(), principal, "upload_bytes");
            plan.reject = std::make_shared<http_response>(std::move(res));
            return plan;
        }
        if (!known) limit = std::min(limit, quota - held);
    }
    try {
        plan.sink = api.uploads.begin(std::move(reservation));
        plan.limit = limit;
    } catch (const std::exception& e) {
        log_error(std::string("uploads: ") + e.what());
        plan.reject = std::make_shared<http_response>(make_problem(ctx, 500, "internal", "the upload cannot be stored"));
    }
    return plan;
}

void create_upload(const call_ptr& c, const std::string&) {
    if (!c->req.streamed_body) return c->problem(500, "internal", "the upload was not received");
    auto content_type = c->req.header("content-type");
    c->api.uploads.commit(
        std::move(c->req.streamed_body), c->who.principal,
        content_type ? std::string(*content_type) : "application/octet-stream",
        [c](std::optional<upload_record> u, const std::string&) {
            if (!u) {
                return c->unavailable("the upload could not be stored (ticketd's storage cannot be written now); retry later",
                                      store_retry_after);
            }
            http_response res;
            res.status = 201;
            res.set("Location", c->api.base_url + "/v1/uploads/" + u->id)
                .set("Content-Type", "application/json")
                .set("Cache-Control", "no-store");
            res.body = json_text(upload_document(*u, c->api.base_url));
            c->respond(std::move(res));
        });
}

void get_upload(const call_ptr& c, const std::string& id) {
    const auto u = c->api.uploads.find(id, c->who);
    if (!u) return c->not_found_upload();
    http_response res;
    res.set("Content-Type", "application/json").set("Cache-Control", "no-cache");
    res.set("ETag", "\"" + u->sha256.substr(0, 32) + "\"");
    res.body = json_text(upload_document(*u, c->api.base_url));
    c->respond(std::move(res));
}

void delete_upload(const call_ptr& c, const std::string& id) {
    c->api.uploads.remove(id, c->who, [c](upload_store::remove_status status) {
        if (answer_problem(*c, status)) return;
        http_response res;
        res.status = 204;
        c->respond(std::move(res));
    });
}

}  // namespace ticketd::routes
