// Parsing of the request headers the protocol gives meaning to: Idempotency-Key (an
// RFC 8941 sf-string, or a bare token), Prefer: wait=N (RFC 7240), If-None-Match, Range
// and If-Range. (Media types: system/media_type.hpp.)
#pragma once

#include "http/http_message.hpp"
#include "system/media_type.hpp"

#include <cstdint>
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

// What to answer a GET with `Range` (RFC 9110 14.2) for a representation of `size`
// bytes whose strong ETag is `etag`: the whole of it (no Range, not a GET, an If-Range
// that does not match, a Range that is malformed or asks for several ranges, or an empty
// representation: RFC 9110 lets a server ignore Range), one part, or 416.
struct range_answer {
    enum kind_t { whole, part, unsatisfiable } kind = whole;
    uint64_t first = 0;   // with part: the first byte's offset
    uint64_t length = 0;  // with part: how many bytes (>= 1)
};
range_answer requested_range(const http_request& req, uint64_t size, std::string_view etag);

// A query parameter's whole number (digits, an optional '-'); false for anything else.
bool parse_whole_number(std::string_view text, long& out);

}  // namespace ticketd
