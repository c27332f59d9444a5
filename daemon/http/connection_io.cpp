#include "http/connection_io.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

namespace ticketd {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {
void append_field(std::string& out, std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
}
}  // namespace

void render_answer(std::string& out, const http_response& r, std::string_view request_id, unsigned version,
                   bool keep_alive, bool bodyless) {
    out.clear();
    out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    out += std::to_string(r.status);
    out += ' ';
    const auto reason = http::obsolete_reason(static_cast<http::status>(r.status));
    out.append(reason.data(), reason.size());
    out += "\r\n";
    for (const auto& [k, v] : r.headers) append_field(out, k, v);
    append_field(out, "X-Request-Id", request_id);
    if (version == 10 && keep_alive) append_field(out, "Connection", "keep-alive");
    if (version != 10 && !keep_alive) append_field(out, "Connection", "close");
    if (r.status != 204 && r.status != 304) append_field(out, "Content-Length", std::to_string(r.body.size()));
    out += "\r\n";
    if (!bodyless) out += r.body;
}

std::optional<read_refusal> refusal_for(const beast::error_code& ec, uint64_t body_limit, uint64_t max_header_bytes,
                                        bool storage_full) {
    if (!ec || ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted ||
        ec == http::error::partial_message || ec.category() == net::error::get_ssl_category() ||
        ec == net::ssl::error::stream_truncated) {
        return std::nullopt;  // under TLS: the client closed without close_notify, or broke the protocol
    }
    if (ec == http::error::body_limit) {
        return read_refusal{413, "content-too-large",
                            "the request body is larger than " + std::to_string(body_limit) + " bytes"};
    }
    if (ec == http::error::header_limit) {
        return read_refusal{431, "invalid-request",
                            "the request headers are larger than " + std::to_string(max_header_bytes) + " bytes"};
    }
    if (ec == beast::errc::io_error) {
        if (storage_full) {
            return read_refusal{507, "insufficient-storage",
                                "the request body does not fit: ticketd's storage is full; retry later"};
        }
        return read_refusal{500, "internal", "the request body could not be stored"};
    }
    return read_refusal{400, "invalid-request", "malformed HTTP request: " + ec.message()};
}

hangup probe_hangup(int fd, bool tls) {
    char byte;
    const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return hangup::gone;
    if (n < 0) return hangup::none;
    // (A client whose FIN comes in a later segment than its close_notify is noticed
    // when the answer is written.)
    pollfd p{fd, POLLRDHUP, 0};
    if (tls && ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) return hangup::gone;
    return hangup::data;  // a pipelined request: read after this answer
}

}  // namespace ticketd
