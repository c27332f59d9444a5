// The HTTP API of docs/protocol.md, as the HTTP server's request handler: one route table
// (http_api.cpp) says which handler answers each path and method and under which label
// each answer is counted; the handlers (routes.hpp) ask the job service and render
// documents, problems and the protocol's headers. Runs on io threads and never blocks:
// the service answers through callbacks.
#pragma once

#include "http/http_message.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace ticketd {

struct api_context;
class authenticator;
struct daemon_config;
class daemon_metrics;
class job_service;
class quota_keeper;
class upload_store;

class http_api final : public request_handler {
   public:
    http_api(const daemon_config& config, job_service& jobs, upload_store& uploads, const authenticator& auth,
             quota_keeper& quotas,
             daemon_metrics& metrics);
    ~http_api() override;

    // The absolute URL prefix for every URL the API emits (no trailing slash).
    void set_base_url(std::string base_url);
    // Readiness: false while starting and while draining.
    void set_ready(bool ready);

    void handle(http_request request, respond_fn respond) override;
    body_plan plan_body(const http_request& head) override;
    http_response protocol_error(unsigned status, std::string_view code, std::string_view detail,
                                 const std::string& request_id) override;

   private:
    std::unique_ptr<api_context> api_;
};

}  // namespace ticketd
