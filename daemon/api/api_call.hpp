// One request being answered by the API, and what every route can reach: the job
// service, the uploads, the keys, the metrics, the configuration and the public base URL.
#pragma once

#include "api/problem.hpp"
#include "auth/authenticator.hpp"
#include "auth/quotas.hpp"
#include "config/config.hpp"
#include "http/http_message.hpp"
#include "jobs/job_service.hpp"
#include "uploads/upload_store.hpp"

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

namespace ticketd {

class daemon_metrics;

// Seconds a client waits before retrying a write the store could not make durable.
inline constexpr int store_retry_after = 5;

struct api_context {
    const daemon_config& config;
    job_service& jobs;
    upload_store& uploads;
    const authenticator& auth;
    quota_keeper& quotas;
    daemon_metrics& metrics;
    std::string base_url;           // the absolute URL prefix of every URL the API emits
    std::atomic<bool> ready{false};  // false while starting and while draining
};

struct api_call {
    api_context& api;
    http_request req;
    respond_fn respond;
    problem_context ctx;
    bool head = false;
    std::shared_ptr<const api_key> key;  // the caller's key (auth.mode none: the anonymous one)
    caller who;                          // its principal, and whether it sees every principal's

    const principal_limits& limits() const { return limits_of_call->of(who.principal); }
    std::shared_ptr<const quotas_config> limits_of_call;  // the quotas in force when it arrived

    void problem(unsigned status, std::string_view code, std::string_view detail,
                 const nlohmann::json& extra = nlohmann::json::object()) const {
        respond(make_problem(ctx, status, code, detail, extra));
    }
    void unavailable(std::string_view detail, int retry_after) const {
        auto res = make_problem(ctx, 503, "unavailable", detail);
        res.set("Retry-After", std::to_string(retry_after));
        respond(std::move(res));
    }
    void not_found_job() const { problem(404, "job-not-found", "there is no job with this id"); }
    void gone_job() const { problem(410, "job-gone", "the job was deleted or has expired"); }
    void not_found_upload() const {
        problem(404, "upload-not-found", "there is no upload with this id (it may have expired)");
    }
};

using call_ptr = std::shared_ptr<api_call>;

}  // namespace ticketd
