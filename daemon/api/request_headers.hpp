// Parsing of the request headers the protocol gives meaning to: Idempotency-Key (an
// RFC 8941 sf-string, or a bare token), Prefer: wait=N (RFC 7240), If-None-Match, and
// media types.
#pragma once

#include "http/http_message.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace ticketd {

enum class key_parse { absent, ok, invalid };
// At most 255 visible ASCII characters, sent once; quoted and bare forms are the same key.
key_parse parse_idempotency_key(const http_request& req, std::string& key);

// Seconds from `Prefer: wait=N`; nullopt when absent or malformed (then ignored).
std::optional<long> prefer_wait(const http_request& req);

// True when the If-None-Match header lists `etag` (or "*"), by weak comparison.
bool if_none_match(const http_request& req, const std::string& etag);

// application/json or application/<x>+json, with parameters allowed.
bool is_json_media_type(std::string_view content_type);
// A media type as RFC 9110 writes it (type "/" subtype, then parameters), in visible
// ASCII: safe to put in a Content-Type header. Uploads' and plugins' results are checked.
bool is_media_type(std::string_view value);

}  // namespace ticketd
