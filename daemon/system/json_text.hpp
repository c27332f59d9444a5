// JSON text for documents that leave the daemon: rendered so that it cannot throw. A
// string with malformed UTF-8 (which no caller should pass, but a client or a plugin may
// have slipped in) comes out with U+FFFD in its place instead of ending the request.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace ticketd {

inline std::string json_text(const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ticketd
