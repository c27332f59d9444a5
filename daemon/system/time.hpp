// Wall-clock time as milliseconds since the Unix epoch, and its text forms
// (RFC 3339 for JSON documents, IMF-fixdate for HTTP headers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ticketd {

using unix_ms = int64_t;

unix_ms now_unix_ms();
// RFC 3339 UTC with milliseconds: "2026-11-26T20:43:23.123Z" (years 0000..9999).
std::string format_rfc3339(unix_ms t);
void append_rfc3339(std::string& out, unix_ms t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm|-hh:mm)".
std::optional<unix_ms> parse_rfc3339(std::string_view text);
// "Thu, 26 Nov 2026 20:43:23 GMT"
std::string format_http_date(unix_ms t);

}  // namespace ticketd
