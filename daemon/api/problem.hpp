// RFC 9457 problem details with ticketd's stable error codes.
#pragma once

#include "http/http_message.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace ticketd {

struct problem_context {
    std::string base_url;    // public base URL, for the absolute `type`
    std::string instance;    // the request path
    std::string request_id;
};

std::string_view problem_title(std::string_view code);

// `extra` members are merged into the problem object (errors, jobId, jobStatus...).
http_response make_problem(const problem_context& ctx, unsigned status, std::string_view code,
                           std::string_view detail, const nlohmann::json& extra = nlohmann::json::object());

}  // namespace ticketd
