// A client's JSON (a submit body), parsed with its nesting bounded while it is parsed: a
// document nested too deep is refused before any tree of it exists, so nothing recursive
// (a copy, a dump, a schema check) ever walks an attacker's depth.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace ticketd {

struct client_json {
    nlohmann::json value;  // discarded (is_discarded()) when refused
    std::string pointer;   // refused: the JSON pointer of the offending value ("" for the whole)
    std::string detail;    // refused: why, for the problem's errors[]
};

// Parses `text`; an object or array opens a level, and more than `max_depth` levels are
// refused (the pointer names the first value too deep).
client_json parse_client_json(std::string_view text, size_t max_depth);

}  // namespace ticketd
