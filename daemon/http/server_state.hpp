// What the HTTP server's listener and its sessions share: the configuration and handler,
// the io contexts connections are spread over, and the counts the limits are checked
// against. Only http/ includes it.
#pragma once

#include "http/http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace ticketd {

namespace net = boost::asio;
using tcp = net::ip::tcp;
// A connection's socket, bound to the io context of the one thread that runs it.
using connection_socket = tcp::socket::rebind_executor<net::io_context::executor_type>::other;

struct http_server::state {
    state(net::io_context& io_, const server_config& config_, request_handler& handler_,
          std::vector<net::io_context*> connection_io_)
        : io(io_),
          config(config_),
          handler(handler_),
          acceptor(io_),
          accept_backoff(io_),
          connection_io(std::move(connection_io_)) {
        if (connection_io.empty()) connection_io.push_back(&io);
    }
    net::io_context& io;
    server_config config;
    request_handler& handler;
    tcp::acceptor acceptor;
    net::steady_timer accept_backoff;  // accept() out of descriptors: wait, then try again
    bool accept_starved = false;       // logged once per episode; on io's thread
    // Connections are spread over these, round-robin; each is run by one thread, so a
    // connection's handlers never run concurrently (no strand needed).
    std::vector<net::io_context*> connection_io;
    size_t next_io = 0;  // on io's thread (the acceptor's)
    tcp protocol = tcp::v4();  // the listener's, set before accepting starts
    std::atomic<unsigned> connections{0};
    // Open connections by client address, for max_connections_per_client.
    std::mutex clients_mutex;
    std::unordered_map<std::string, unsigned> clients;
    // Bytes of request bodies held in memory now, over all connections (max_body_memory).
    std::atomic<uint64_t> body_memory{0};
    std::atomic<bool> accepting{true};
    // Set: connections speak TLS with these (replaced at a reload; a connection keeps its own).
    std::atomic<std::shared_ptr<const tls_credentials>> tls;
    uint16_t port = 0;  // set once by listen(), before accepting starts
};

}  // namespace ticketd
