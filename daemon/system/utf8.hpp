// UTF-8 for text that reaches a JSON document, a problem or a log line: every byte a
// client or a plugin sends may be malformed, and a JSON document must not be.
#pragma once

#include <string>
#include <string_view>

namespace ticketd {

// True when `s` is well-formed UTF-8: no stray continuation bytes, truncated sequences,
// overlong forms, surrogates or code points past U+10FFFF.
bool is_valid_utf8(std::string_view s);

// `s` with every byte that does not start a well-formed sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view s);

}  // namespace ticketd
