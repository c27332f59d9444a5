// Media types (RFC 9110 8.3) as clients send them and as plugins name their results.
#pragma once

#include <string_view>

namespace ticketd {

// application/json or application/<x>+json, with parameters allowed.
bool is_json_media_type(std::string_view content_type);
// A media type as RFC 9110 writes it (type "/" subtype, then parameters), in visible
// ASCII: safe to put in a Content-Type header. Uploads' and plugins' results are checked.
bool is_media_type(std::string_view value);
// Whether `content_type` (parameters ignored) is what `pattern` names: "type/sub",
// "type/*" or "*/*", compared without regard to case.
bool media_type_matches(std::string_view content_type, std::string_view pattern);

}  // namespace ticketd
