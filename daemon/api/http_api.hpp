// The HTTP API of docs/protocol.md, as the HTTP server's request handler: one route table
// (http_api.cpp) says which handler answers each path and method and under which label
// each answer is counted; the handlers (routes.hpp) ask the job service and render
// documents, problems and the protocol's headers. Runs on io threads and never blocks:
// the service answers through callbacks.
#pragma once

#include "api/api_call.hpp"

#include <string>
#include <string_view>

namespace ticketd {

class http_api final : public request_handler {
   public:
    http_api(const daemon_config& config, job_service& jobs, upload_store& uploads, daemon_metrics& metrics)
        : api_{config, jobs, uploads, metrics, {}, {}} {}

    // The absolute URL prefix for every URL the API emits (no trailing slash).
    void set_base_url(std::string base_url) { api_.base_url = std::move(base_url); }
    // Readiness: false while starting and while draining.
    void set_ready(bool ready) { api_.ready = ready; }

    void handle(http_request request, respond_fn respond) override;
    body_plan plan_body(const http_request& head) override;
    http_response protocol_error(unsigned status, std::string_view code, std::string_view detail,
                                 const std::string& request_id) override;

   private:
    api_context api_;
};

}  // namespace ticketd
