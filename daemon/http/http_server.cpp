#include "http/http_server.hpp"

#include "http/server_state.hpp"
#include "http/session.hpp"
#include "system/log.hpp"

#include <boost/asio/post.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

namespace ticketd {

namespace {

// The key a client's connections are counted under: its address's bytes.
std::string client_key(const net::ip::address& address) {
    if (address.is_v4()) {
        const auto bytes = address.to_v4().to_bytes();
        return std::string(bytes.begin(), bytes.end());
    }
    const auto v6 = address.to_v6();
    if (v6.is_v4_mapped()) return client_key(net::ip::make_address_v4(net::ip::v4_mapped, v6));
    // An IPv6 client holds a /64 at least: its connections count together.
    const auto bytes = v6.to_bytes();
    return std::string(bytes.begin(), bytes.begin() + 8);
}

void do_accept(const std::shared_ptr<http_server::state>& st) {
    st->acceptor.async_accept([st](boost::system::error_code ec, tcp::socket accepted) {
        if (ec) {
            if (ec == net::error::operation_aborted || !st->accepting.load()) return;
            if (ec == net::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system ||
                ec == net::error::no_buffer_space || ec == net::error::no_memory) {
                // Out of descriptors (or kernel memory): the connection waits in the
                // backlog; try again in 100 ms instead of spinning, and say so once.
                if (!st->accept_starved) {
                    log_warning("http: accept failed: " + ec.message() +
                                "; retrying every 100 ms (raise LimitNOFILE or lower server.max_connections)");
                    st->accept_starved = true;
                }
                st->accept_backoff.expires_after(std::chrono::milliseconds(100));
                st->accept_backoff.async_wait([st](boost::system::error_code wec) {
                    if (!wec && st->accepting.load()) do_accept(st);
                });
                return;
            }
            log_warning("http: accept failed: " + ec.message());
        } else {
            if (st->accept_starved) {
                log_info("http: accepting connections again");
                st->accept_starved = false;
            }
            // The connection moves to the next io thread's context; only its descriptor
            // crosses over, so a pending accept never holds a socket of another context
            // (the contexts can then be destroyed in any order at exit).
            auto& io = *st->connection_io[st->next_io++ % st->connection_io.size()];
            connection_socket socket(io);
            boost::system::error_code moved;
            socket.assign(st->protocol, accepted.release(moved), moved);
            if (moved) {
                log_warning("http: cannot take over an accepted connection: " + moved.message());
            } else {
                // Responses are written whole; never let Nagle hold them back for a delayed ACK.
                boost::system::error_code ignored;
                socket.set_option(tcp::no_delay(true), ignored);
                boost::system::error_code peer_ec;
                const auto peer = socket.remote_endpoint(peer_ec);
                std::string client = peer_ec ? std::string() : client_key(peer.address());
                unsigned from_client = 0;
                {
                    std::lock_guard lock(st->clients_mutex);
                    from_client = ++st->clients[client];
                }
                const bool over = st->connections.load() >= st->config.max_connections ||
                                  from_client > st->config.max_connections_per_client;
                start_session(std::move(socket), st, over, std::move(client));
            }
        }
        if (st->accepting.load()) do_accept(st);
    });
}

}  // namespace

http_server::http_server(net::io_context& io, const server_config& config, request_handler& handler,
                         std::vector<net::io_context*> connection_io)
    : state_(std::make_shared<state>(io, config, handler, std::move(connection_io))) {}

http_server::~http_server() { stop_accepting(); }

void http_server::listen() {
    boost::system::error_code ec;
    const auto address = net::ip::make_address(state_->config.listen_host, ec);
    if (ec) {
        throw std::runtime_error("server.listen: '" + state_->config.listen_host +
                                 "' is not an IP address; fix: use e.g. 127.0.0.1 or ::1");
    }
    const tcp::endpoint endpoint(address, state_->config.listen_port);
    auto& a = state_->acceptor;
    state_->protocol = endpoint.protocol();
    a.open(endpoint.protocol(), ec);
    if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(endpoint, ec);
    if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
        throw std::runtime_error("cannot listen on " + state_->config.listen_host + ":" +
                                 std::to_string(state_->config.listen_port) + ": " + ec.message() +
                                 "; fix: stop the other process on that port or change server.listen");
    }
    state_->port = a.local_endpoint().port();
    do_accept(state_);
}

void http_server::stop_accepting() {
    if (!state_->accepting.exchange(false)) return;
    net::post(state_->acceptor.get_executor(), [st = state_] {
        boost::system::error_code ec;
        st->acceptor.close(ec);
    });
}

void http_server::adopt(int listening_fd) {
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    if (::getsockname(listening_fd, reinterpret_cast<sockaddr*>(&local), &length) != 0 ||
        (local.ss_family != AF_INET && local.ss_family != AF_INET6)) {
        throw std::runtime_error("socket activation: fd " + std::to_string(listening_fd) +
                                 " is not a TCP socket; fix: ListenStream= in the .socket unit");
    }
    boost::system::error_code ec;
    state_->protocol = local.ss_family == AF_INET ? tcp::v4() : tcp::v6();
    state_->acceptor.assign(state_->protocol, listening_fd, ec);
    if (ec) throw std::runtime_error("socket activation: cannot use fd " + std::to_string(listening_fd) + ": " + ec.message());
    state_->port = state_->acceptor.local_endpoint().port();
    do_accept(state_);
}

void http_server::use_tls(std::shared_ptr<const tls_credentials> credentials) {
    state_->tls.store(std::move(credentials));
}

uint16_t http_server::port() const { return state_->port; }

unsigned http_server::connections() const { return state_->connections.load(); }

}  // namespace ticketd
