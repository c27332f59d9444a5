// The request handler of the separate metrics listener (metrics.listen): GET/HEAD
// /metrics, nothing else.
#pragma once

#include "http/http_message.hpp"

namespace ticketd {

class daemon_metrics;

class metrics_endpoint final : public request_handler {
   public:
    explicit metrics_endpoint(daemon_metrics& metrics) : metrics_(metrics) {}
    void set_base_url(std::string base_url) { base_url_ = std::move(base_url); }
    void handle(http_request request, respond_fn respond) override;
    http_response protocol_error(unsigned status, std::string_view code, std::string_view detail,
                                 const std::string& request_id) override;

   private:
    daemon_metrics& metrics_;
    std::string base_url_;  // for the problems' absolute `type`
};

}  // namespace ticketd
