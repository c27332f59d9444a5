// The HTTP/1.1 server (Boost.Beast): accepts connections, enforces the limits (header
// and body size, idle and per-request read deadlines, a cap on connections), parses
// requests into http_request and writes back http_response. The listener runs on `io`;
// connections are spread over `connection_io` (one io_context per io thread, each run
// by a single thread: a connection lives on one thread, no strands, no locks between
// io threads); requests on a connection are answered in order; a handler that answers
// later (a long-poll, a commit) holds no thread.
#pragma once

#include "config/config.hpp"
#include "http/http_message.hpp"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace ticketd {

class tls_credentials;

class http_server {
   public:
    http_server(boost::asio::io_context& io, const server_config& config, request_handler& handler,
                std::vector<boost::asio::io_context*> connection_io = {});
    ~http_server();

    // Binds and listens; throws std::runtime_error with a clear message on failure.
    void listen();
    // Accepts on a socket that is already listening (systemd socket activation).
    void adopt(int listening_fd);
    // Serves HTTPS with these from the next connection on (before listen(), and at a reload).
    void use_tls(std::shared_ptr<const tls_credentials> credentials);
    // Stops accepting new connections (existing ones finish their current request).
    void stop_accepting();
    uint16_t port() const;
    unsigned connections() const;

    struct state;  // shared with sessions

   private:
    std::shared_ptr<state> state_;
};

}  // namespace ticketd
