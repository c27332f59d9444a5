// Plain request/response types that the API layer works with, so that Boost.Beast stays
// inside http/ and out of the headers most files include.
#pragma once

#include "system/byte_sink.hpp"

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
// The connection watches for the hang-up only once someone registers (a long-poll): a
// request answered within a commit needs no extra socket wait.
class client_gone_signal {
   public:
    // Runs `fn` when the client goes away (at once if it already has).
    void on_gone(std::function<void()> fn);
    void fire();
    // Set by the connection: called once, on the first on_gone().
    void set_watcher(std::function<void()> start_watching);

   private:
    std::mutex mutex_;
    bool fired_ = false;
    std::vector<std::function<void()>> callbacks_;
    std::function<void()> start_watching_;
};

struct http_response;

// The names in a client certificate that the TLS handshake verified (server.tls.client_ca).
struct peer_certificate {
    std::string common_name;        // the subject's CN, "" if it has none
    std::vector<std::string> uris;  // subjectAltName URIs, in order
};

// How the handler wants a request's body read (asked once its header has arrived).
struct body_plan {
    std::shared_ptr<body_sink> sink;      // null: read the body into http_request::body
    uint64_t limit = 0;                   // with a sink: the most bytes accepted (413 beyond)
    std::shared_ptr<http_response> reject;  // set: answer this at once and skip the body
    std::shared_ptr<const void> note;       // handed back in http_request::handler_note
};

struct http_request {
    std::string method;  // as sent; HEAD is answered as GET without a body
    std::string target;  // path and query as sent
    std::string path;    // percent-decoded path
    std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
    std::string body;
    std::shared_ptr<body_sink> streamed_body;  // set when the body went to a sink instead
    std::string request_id;
    std::shared_ptr<client_gone_signal> client_gone = std::make_shared<client_gone_signal>();
    // What the handler's plan_body decided about this request (its body_plan::note).
    std::shared_ptr<const void> handler_note;
    // The connection's verified client certificate (mTLS), null without one.
    std::shared_ptr<const peer_certificate> peer;

    std::optional<std::string_view> header(std::string_view lower_name) const;
    size_t header_count(std::string_view lower_name) const;
    std::optional<std::string_view> query_param(std::string_view name) const;
};

struct http_response {
    unsigned status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string file_path;  // when set, the body is this file's content (streamed)
    struct byte_span {
        uint64_t offset = 0;
        uint64_t length = 0;
    };
    std::optional<byte_span> file_part;  // with file_path: only these bytes (a Range's part)

    http_response& set(std::string name, std::string value);
    std::optional<std::string_view> header(std::string_view name) const;
};

using respond_fn = std::function<void(http_response)>;

// What the HTTP server calls. `handle` may answer later, from any thread, exactly once.
class request_handler {
   public:
    virtual ~request_handler() = default;
    virtual void handle(http_request request, respond_fn respond) = 0;
    // Asked when a request's header has arrived (request.body is still empty): keep the
    // body in memory (the default) or stream it to a sink.
    virtual body_plan plan_body(const http_request& /*head*/) { return {}; }
    // Answers the server produces itself (413, 431, 400 on parse errors, 503 at the
    // connection cap), rendered in the API's problem format.
    virtual http_response protocol_error(unsigned status, std::string_view code, std::string_view detail,
                                         const std::string& request_id) = 0;
};

// Percent-decoding of a URL component; false on malformed escapes.
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space);

}  // namespace ticketd
