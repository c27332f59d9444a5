// The parts of a connection's work that do not depend on its stream (plain or TLS): an
// answer rendered as the bytes one write sends, what a failed read calls for, and whether
// a waiting client has hung up. Only the session (http/session.cpp) uses them.
#pragma once

#include "http/http_message.hpp"

#include <boost/beast/core/error.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ticketd {

// Status line, the answer's fields, X-Request-Id, Connection (as `keep_alive` and HTTP
// `version` 10/11 need), Content-Length, then the body unless `bodyless` (HEAD, 204, 304).
void render_answer(std::string& out, const http_response& r, std::string_view request_id, unsigned version,
                   bool keep_alive, bool bodyless);

// The answer a failed read of a request calls for; nullopt when there is nothing to say
// and the connection just closes (the client left or timed out, or broke TLS).
struct read_refusal {
    unsigned status;
    std::string_view code;
    std::string detail;
};
std::optional<read_refusal> refusal_for(const boost::beast::error_code& ec, uint64_t body_limit,
                                        uint64_t max_header_bytes, bool storage_full);

// A client waiting for an answer on `fd` has hung up (closed, reset). Under `tls`, bytes
// waiting may be its close_notify: then whether it closed its side too tells.
enum class hangup { gone, data, none };
hangup probe_hangup(int fd, bool tls);

}  // namespace ticketd
