// Plain request/response types that the API layer works with, so that Boost.Beast stays
// inside http/ and out of the headers most files include.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ticketd {

// Fires once if the client goes away before its answer was written (e.g. mid long-poll),
// so whatever waits on its behalf can be released at once.
class client_gone_signal {
   public:
    // Runs `fn` when the client goes away (at once if it already has).
    void on_gone(std::function<void()> fn);
    void fire();

   private:
    std::mutex mutex_;
    bool fired_ = false;
    std::vector<std::function<void()>> callbacks_;
};

struct http_request {
    std::string method;  // as sent; HEAD is answered as GET without a body
    std::string target;  // path and query as sent
    std::string path;    // percent-decoded path
    std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
    std::string body;
    std::string request_id;
    std::shared_ptr<client_gone_signal> client_gone = std::make_shared<client_gone_signal>();

    std::optional<std::string_view> header(std::string_view lower_name) const;
    size_t header_count(std::string_view lower_name) const;
    std::optional<std::string_view> query_param(std::string_view name) const;
};

struct http_response {
    unsigned status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string file_path;  // when set, the body is this file's content (streamed)

    http_response& set(std::string name, std::string value);
    std::optional<std::string_view> header(std::string_view name) const;
};

using respond_fn = std::function<void(http_response)>;

// What the HTTP server calls. `handle` may answer later, from any thread, exactly once.
class request_handler {
   public:
    virtual ~request_handler() = default;
    virtual void handle(http_request request, respond_fn respond) = 0;
    // Answers the server produces itself (413, 431, 400 on parse errors, 503 at the
    // connection cap), rendered in the API's problem format.
    virtual http_response protocol_error(unsigned status, std::string_view code, std::string_view detail,
                                         const std::string& request_id) = 0;
};

// Percent-decoding of a URL component; false on malformed escapes.
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space);

}  // namespace ticketd
