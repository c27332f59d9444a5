// The checks of a request's head before anything answers it: its path and query
// percent-decoded into valid UTF-8, its framing unambiguous (no request smuggling), its
// request id taken from X-Request-Id when that is a safe one.
#pragma once

#include "http/http_message.hpp"

#include <string>

namespace ticketd {

// `req` has its method, target and headers (names lower-case); fills its path, query and
// request_id (`request_id` unless X-Request-Id gives a valid one). Returns why the head is
// refused (400), or an empty string when it is not. `version`: 10 or 11.
std::string check_request_head(http_request& req, unsigned version, const std::string& request_id);

}  // namespace ticketd
