// The answers that refuse a caller (401 with its WWW-Authenticate, 403 naming the scope it
// lacks) and the one log line each denied request leaves (auth.max_denied_log_lines a second): who (when
// known), the route and the request id, never the token.
#pragma once

#include "api/problem.hpp"
#include "auth/authenticator.hpp"
#include "http/http_message.hpp"

#include <string_view>

namespace ticketd {

http_response unauthenticated(const problem_context& ctx, auth_failure why);
http_response forbidden(const problem_context& ctx, std::string_view scope);
void log_denied(unsigned max_per_second, unsigned status, std::string_view why, const api_key* key, std::string_view route,
                const http_request& head);

}  // namespace ticketd
