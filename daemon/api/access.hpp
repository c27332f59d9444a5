// Who a request acts for (its bearer token, or its client certificate in auth.mode mtls),
// the answers that refuse a caller (401 with its WWW-Authenticate; 403 for a certificate
// that names no principal, or naming the scope a key lacks) and the one log line each
// denied request leaves (auth.max_denied_log_lines a second): who (when known), the route
// and the request id, never the token.
#pragma once

#include "api/problem.hpp"
#include "auth/authenticator.hpp"
#include "http/http_message.hpp"

#include <string_view>

namespace ticketd {

class daemon_metrics;

auth_result authenticate(const authenticator& auth, const auth_config& config, const http_request& head);
// 401 for a missing or bad key; 403 for a certificate without a principal entry.
http_response unauthenticated(const problem_context& ctx, auth_failure why);
unsigned status_of(auth_failure why);
http_response forbidden(const problem_context& ctx, std::string_view scope);
// Counts a request a quota refused (daemon_metrics::principal_rejected), under the
// principal's name when quotas.principals names it, else "other".
void count_quota_refusal(daemon_metrics& metrics, const quotas_config& quotas, const std::string& principal,
                         std::string_view reason);
void log_denied(unsigned max_per_second, unsigned status, std::string_view why, const api_key* key, std::string_view route,
                const http_request& head);

}  // namespace ticketd
