// A small blocking HTTP/1.1 client for integration tests (one connection per request
// unless a `connection` is reused). Headers are matched case-insensitively.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ticketd::test {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_result {
    unsigned status = 0;
    header_list headers;
    std::string body;

    std::optional<std::string> header(std::string_view name) const;
    size_t header_count(std::string_view name) const;
    nlohmann::json json() const { return nlohmann::json::parse(body); }
    // A member of the JSON body, by value (safe in a range-for, unlike json()[key]).
    nlohmann::json member(const std::string& key) const { return json().at(key); }
};

http_result http_request(uint16_t port, const std::string& method, const std::string& target,
                         const header_list& headers = {}, const std::string& body = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A raw TCP connection, for tests of the server's limits.
class raw_connection {
   public:
    // Connects to 127.0.0.1:port from `from` (any 127.x.y.z address is this host's).
    explicit raw_connection(uint16_t port, const char* from = "127.0.0.1");
    ~raw_connection();
    bool send(const std::string& bytes);  // false once the server closed the connection
    // Reads until the server closes the connection or `timeout`; returns what arrived.
    std::string read_until_close(std::chrono::milliseconds timeout);
    bool closed_by_peer(std::chrono::milliseconds timeout);
    // Reads at most `max` bytes, waiting up to `timeout`; empty at the end or on timeout.
    std::string read_some(size_t max, std::chrono::milliseconds timeout);

   private:
    int fd_ = -1;
};

}  // namespace ticketd::test
