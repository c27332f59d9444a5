// HTTPS (server.tls): the server's certificate and key, and the CAs client certificates
// must chain to, loaded into one OpenSSL context that new connections handshake with.
// A reload loads a new one; a connection keeps the one it began with, so renewing a
// certificate drops no connection. Only the HTTP server and the daemon's start and reload
// use it; the OpenSSL and Asio types stay out of this header.
#pragma once

#include "config/config.hpp"
#include "http/http_message.hpp"

#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}
struct ssl_st;

namespace ticketd {

class tls_credentials {
   public:
    // Throws config_error naming the key and file, what OpenSSL found wrong, and the fix.
    explicit tls_credentials(const tls_config& config);
    ~tls_credentials();
    tls_credentials(const tls_credentials&) = delete;
    tls_credentials& operator=(const tls_credentials&) = delete;

    boost::asio::ssl::context& context() const { return *context_; }
    bool verifies_clients() const { return verifies_clients_; }
    // For the log: the certificate's subject and when it expires.
    const std::string& description() const { return description_; }

   private:
    std::unique_ptr<boost::asio::ssl::context> context_;
    bool verifies_clients_ = false;
    std::string description_;
};

// The names of the certificate the client presented on this connection (verified by the
// handshake); null when it presented none.
std::shared_ptr<const peer_certificate> peer_certificate_of(ssl_st* connection);

}  // namespace ticketd
