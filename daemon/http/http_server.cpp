#include "http/http_server.hpp"

#include "system/log.hpp"
#include "system/random_id.hpp"
#include "system/utf8.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace ticketd {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

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
    uint16_t port = 0;  // set once by listen(), before accepting starts
};

namespace {

bool valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '_' || c == '.';
    });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// A Beast body that hands each chunk of the request body to a body_sink as it arrives.
struct sink_body {
    using value_type = std::shared_ptr<body_sink>;

    class reader {
       public:
        template <bool isRequest, class Fields>
        reader(http::header<isRequest, Fields>&, value_type& sink) : sink_(sink) {}
        void init(const boost::optional<std::uint64_t>&, beast::error_code& ec) { ec = {}; }
        template <class ConstBufferSequence>
        std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
            std::size_t n = 0;
            for (const auto b : beast::buffers_range_ref(buffers)) {
                if (!sink_ || !sink_->write(static_cast<const char*>(b.data()), b.size())) {
                    ec = beast::errc::make_error_code(beast::errc::io_error);
                    return n;
                }
                n += b.size();
            }
            ec = {};
            return n;
        }
        void finish(beast::error_code& ec) { ec = {}; }

       private:
        value_type& sink_;
    };
};

// A Beast body that sends `length` bytes of a file from `offset`: a whole result, or the
// part a Range asked for (Beast 1.81's file_body sends whole files only). Read in 64 KiB
// pieces as the socket takes them (file_body's are 4 KiB: 16x the reads and sends).
struct file_part_body {
    struct value_type {
        beast::file file;
        uint64_t offset = 0;
        uint64_t length = 0;
    };
    static std::uint64_t size(const value_type& v) { return v.length; }

    class writer {
       public:
        using const_buffers_type = net::const_buffer;
        template <bool isRequest, class Fields>
        writer(http::header<isRequest, Fields>&, value_type& v) : body_(v), remain_(v.length) {}
        void init(beast::error_code& ec) { body_.file.seek(body_.offset, ec); }
        boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec) {
            const auto amount = static_cast<std::size_t>(std::min<std::uint64_t>(remain_, buf_.size()));
            if (amount == 0) {
                ec = {};
                return boost::none;
            }
            const std::size_t n = body_.file.read(buf_.data(), amount, ec);
            if (ec) return boost::none;
            if (n == 0) {  // the file is shorter than it was: the answer cannot be completed
                ec = http::error::short_read;
                return boost::none;
            }
            remain_ -= n;
            return {{net::const_buffer(buf_.data(), n), remain_ > 0}};
        }

       private:
        value_type& body_;
        std::uint64_t remain_;
        std::array<char, 64 * 1024> buf_;
    };
};

using connection_socket = tcp::socket::rebind_executor<net::io_context::executor_type>::other;

class session : public std::enable_shared_from_this<session> {
   public:
    // `client` is the peer's address as a key; the caller has counted it in st->clients.
    session(connection_socket&& socket, std::shared_ptr<http_server::state> st, bool over_capacity,
            std::string client)
        : stream_(std::move(socket)),
          // What one connection may hold: a header, a pending chunk-size line or trailer, one read.
          buffer_(st->config.max_header_bytes + st->config.max_chunk_header_bytes + 64 * 1024),
          st_(std::move(st)),
          over_capacity_(over_capacity),
          client_(std::move(client)) {
        st_->connections++;
    }
    ~session() {
        release_body_memory();
        st_->connections--;
        std::lock_guard lock(st_->clients_mutex);
        if (auto it = st_->clients.find(client_); it != st_->clients.end() && --it->second == 0) {
            st_->clients.erase(it);
        }
    }

    void run() {
        net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
            if (self->over_capacity_) {
                // No lingering here: a connection over a cap is shed at once.
                self->reply_error(503, "unavailable", "too many connections (from this address, or in all); retry later",
                                  new_random_id(), false);
            } else {
                self->do_read();
            }
        });
    }

   private:
    void do_read() {
        header_parser_.emplace();
        header_parser_->header_limit(static_cast<std::uint32_t>(st_->config.max_header_bytes));
        header_parser_->body_limit(boost::none);  // checked in on_header, per route
        body_parser_.reset();
        sink_parser_.reset();
        if (buffer_.size() > 0) {
            read_request();
            return;
        }
        // Idle phase: wait for the first bytes of the next request.
        stream_.expires_after(st_->config.idle_timeout);
        stream_.async_read_some(buffer_.prepare(8192),
                                beast::bind_front_handler(&session::on_first_bytes, shared_from_this()));
    }

    void on_first_bytes(beast::error_code ec, std::size_t n) {
        if (ec) return close();
        buffer_.commit(n);
        read_request();
    }

    void read_request() {
        // The whole request must arrive within request_timeout: a trickling client is cut off.
        stream_.expires_after(st_->config.request_timeout);
        http::async_read_header(stream_, buffer_, *header_parser_,
                                beast::bind_front_handler(&session::on_header, shared_from_this()));
    }

    void on_header(beast::error_code ec, std::size_t) {
        if (ec) return on_read(ec, 0);
        const std::string request_id = new_random_id();
        auto& head = header_parser_->get();
        if (!parse_head(head, request_id)) return;
        keep_alive_ = head.keep_alive() && st_->accepting.load();
        head_ = head.method() == http::verb::head;
        version_ = head.version();

        body_plan plan;
        try {
            plan = st_->handler.plan_body(request_);
        } catch (const std::exception& e) {
            return handler_failed(e.what(), request_.request_id);
        } catch (...) {
            return handler_failed("an exception of unknown type", request_.request_id);
        }
        if (plan.reject) {
            keep_alive_ = false;  // the body (if any) is never read
            linger_ = true;
            head_ = false;
            return write(std::move(*plan.reject), request_.request_id);
        }
        const uint64_t limit = plan.sink ? plan.limit : st_->config.max_body_bytes;
        const auto length = header_parser_->content_length();
        if (length && *length > limit) return on_read(http::error::body_limit, 0, limit);
        streaming_ = plan.sink != nullptr;
        // A body read into memory reserves its size (a chunked one, its limit) in the
        // budget all connections share, so that many large bodies at once cannot take
        // the memory: past it, 503 at once and the body is never read.
        if (!streaming_ && !header_parser_->is_done() && !reserve_body_memory(length.value_or(limit))) {
            keep_alive_ = false;
            return reply_error(503, "unavailable", "too many request bodies are being received; retry later",
                               request_.request_id);
        }
        body_start_ = std::chrono::steady_clock::now();
        body_received_ = 0;
        streamed_limit_ = limit;
        if (streaming_) {
            sink_parser_.emplace(std::move(*header_parser_));
            sink_parser_->body_limit(limit);
            sink_parser_->get().body() = std::move(plan.sink);
        } else {
            body_parser_.emplace(std::move(*header_parser_));
            body_parser_->body_limit(limit);
        }
        header_parser_.reset();
        // A client that asks first (curl does for bodies over 1 KiB) gets its go-ahead now
        // instead of waiting a second; the limits were checked against Content-Length.
        const bool done = streaming_ ? sink_parser_->is_done() : body_parser_->is_done();
        if (!done && beast::iequals(head_expect_, "100-continue")) {
            static constexpr std::string_view go_ahead = "HTTP/1.1 100 Continue\r\n\r\n";
            return net::async_write(stream_, net::buffer(go_ahead.data(), go_ahead.size()),
                                    [self = shared_from_this()](beast::error_code wec, std::size_t) {
                                        if (wec) return self->close();
                                        self->read_body();
                                    });
        }
        read_body();
    }

    // A body is read piece by piece, and parsed here rather than by http::async_read:
    // between pieces, what waits unparsed can only be a chunk-size line or the trailer,
    // which Beast 1.81 does not bound; past max_chunk_header_bytes, the request is refused.
    // A body held in memory must arrive, with its header, within request_timeout (the
    // timer set for the header is left running). A streamed one (an upload) may take
    // long, but must keep moving: each read within request_timeout, and on average
    // min_body_rate once request_timeout has passed (a byte every 29 s is not progress).
    void read_body() {
        if (streaming_) return parse_body(*sink_parser_);
        parse_body(*body_parser_);
    }

    template <class Parser>
    void parse_body(Parser& parser) {
        beast::error_code ec;
        while (buffer_.size() > 0 && !parser.is_done()) {
            const std::size_t used = parser.put(buffer_.data(), ec);
            buffer_.consume(used);
            if (ec == http::error::need_more) break;
            if (ec) return on_body_read(ec, 0);
        }
        if (parser.is_done()) return on_body_read({}, 0);
        if (buffer_.size() > st_->config.max_chunk_header_bytes) {
            return reply_error(400, "invalid-request",
                               "a chunk-size line (with its extensions) or the trailer is longer than " +
                                   std::to_string(st_->config.max_chunk_header_bytes) + " bytes",
                               request_.request_id);
        }
        if (streaming_) stream_.expires_at(streamed_body_deadline());
        stream_.async_read_some(buffer_.prepare(64 * 1024),
                                [self = shared_from_this(), &parser](beast::error_code rec, std::size_t n) {
                                    if (rec == net::error::eof) rec = http::error::partial_message;
                                    if (rec) return self->on_body_read(rec, 0);
                                    self->buffer_.commit(n);
                                    self->body_received_ += n;
                                    self->parse_body(parser);
                                });
    }

    std::chrono::steady_clock::time_point streamed_body_deadline() const {
        const auto& c = st_->config;
        const auto idle = std::chrono::steady_clock::now() + c.request_timeout;
        if (c.min_body_rate == 0) return idle;
        const auto earned = std::chrono::milliseconds(body_received_ * 1000 / c.min_body_rate);
        return std::min(idle, body_start_ + c.request_timeout + earned);
    }

    bool reserve_body_memory(uint64_t bytes) {
        if (st_->body_memory.fetch_add(bytes) + bytes > st_->config.max_body_memory) {
            st_->body_memory.fetch_sub(bytes);
            return false;
        }
        body_reserved_ = bytes;
        return true;
    }
    void release_body_memory() {
        if (body_reserved_ == 0) return;
        st_->body_memory.fetch_sub(body_reserved_);
        body_reserved_ = 0;
    }

    void on_body_read(beast::error_code ec, std::size_t) {
        if (ec) return on_read(ec, 0, streaming_ ? streamed_limit_ : st_->config.max_body_bytes);
        if (streaming_) {
            request_.streamed_body = std::move(sink_parser_->get().body());
        } else {
            request_.body = std::move(body_parser_->get().body());
        }
        dispatch_request();
    }

    // Fills request_ from the header; answers 400 itself (and returns false) when malformed.
    bool parse_head(const http::request_parser<http::empty_body>::value_type& msg, const std::string& request_id) {
        request_ = http_request{};
        auto& req = request_;
        req.method = std::string(msg.method_string());
        req.target = std::string(msg.target());
        const auto q = req.target.find('?');
        // A URL's text must be UTF-8 once decoded (RFC 3986 2.5): what is not is refused
        // here, so that no handler can echo a malformed byte into a document.
        if (!percent_decode(std::string_view(req.target).substr(0, q), req.path, false)) {
            reply_error(400, "invalid-request", "malformed percent-encoding in the path", request_id);
            return false;
        }
        if (!is_valid_utf8(req.path)) {
            reply_error(400, "invalid-request", "the path is not valid UTF-8 once percent-decoded", request_id);
            return false;
        }
        if (q != std::string::npos) {
            std::string_view rest = std::string_view(req.target).substr(q + 1);
            while (!rest.empty()) {
                const auto amp = rest.find('&');
                const std::string_view part = rest.substr(0, amp);
                rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
                if (part.empty()) continue;
                const auto eq = part.find('=');
                std::string k, v;
                if (!percent_decode(part.substr(0, eq), k, true) ||
                    !percent_decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), v, true)) {
                    reply_error(400, "invalid-request", "malformed percent-encoding in the query", request_id);
                    return false;
                }
                if (!is_valid_utf8(k) || !is_valid_utf8(v)) {
                    reply_error(400, "invalid-request", "the query is not valid UTF-8 once percent-decoded",
                                request_id);
                    return false;
                }
                req.query.emplace_back(std::move(k), std::move(v));
            }
        }
        for (const auto& field : msg) {
            req.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
        }
        // Request smuggling (RFC 9112 6.1, 6.3): a request framed in a way a proxy in front
        // may read differently is refused, and its connection closed. ticketd reads one
        // Content-Length of digits, or a lone "chunked"; Beast refuses the two together, but
        // would pass a repeated Content-Length of one value, and "gzip" (unframed).
        const size_t lengths = req.header_count("content-length");
        if (lengths > 1 || (lengths == 1 && !all_digits(trim(*req.header("content-length"))))) {
            reply_error(400, "invalid-request", "Content-Length must be sent once, as digits only", request_id);
            return false;
        }
        const size_t codings = req.header_count("transfer-encoding");
        if (codings > 0) {
            const bool lone_chunked = codings == 1 && beast::iequals(trim(*req.header("transfer-encoding")), "chunked");
            if (!lone_chunked || msg.version() < 11) {
                reply_error(400, "invalid-request",
                            "Transfer-Encoding must be exactly 'chunked' (once, on HTTP/1.1); no other coding is read",
                            request_id);
                return false;
            }
        }
        auto rid = req.header("x-request-id");
        req.request_id = rid && valid_request_id(*rid) ? std::string(*rid) : request_id;
        head_expect_ = std::string(msg[http::field::expect]);
        return true;
    }

    void on_read(beast::error_code ec, std::size_t, uint64_t limit = 0) {
        if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof ||
            ec == net::error::connection_reset || ec == net::error::operation_aborted ||
            ec == http::error::partial_message) {
            return close();
        }
        const std::string request_id = request_.request_id.empty() ? new_random_id() : request_.request_id;
        if (ec == http::error::body_limit) {
            if (limit == 0) limit = st_->config.max_body_bytes;
            return reply_error(413, "content-too-large",
                               "the request body is larger than " + std::to_string(limit) + " bytes", request_id);
        }
        if (ec == http::error::header_limit) {
            return reply_error(431, "invalid-request",
                               "the request headers are larger than " +
                                   std::to_string(st_->config.max_header_bytes) + " bytes",
                               request_id);
        }
        if (ec == beast::errc::io_error) {
            const bool full =
                streaming_ && sink_parser_ && sink_parser_->get().body() && sink_parser_->get().body()->out_of_space();
            sink_parser_.reset();  // what was stored goes now, not when the lingering close ends
            if (full) {
                return reply_error(507, "insufficient-storage",
                                   "the request body does not fit: ticketd's storage is full; retry later", request_id);
            }
            return reply_error(500, "internal", "the request body could not be stored", request_id);
        }
        if (ec) return reply_error(400, "invalid-request", "malformed HTTP request: " + ec.message(), request_id);
    }

    void dispatch_request() {
        http_request req = std::move(request_);
        request_ = http_request{};
        const std::string rid_copy = req.request_id;
        client_gone_ = req.client_gone;
        awaiting_answer_ = true;
        client_gone_->set_watcher([weak = weak_from_this()] {
            if (auto self = weak.lock()) {
                net::post(self->stream_.get_executor(), [self] { self->watch_for_hangup(); });
            }
        });

        // An answer given inside handle() (a poll, an error) is written right here; one
        // that comes later (after a commit, a long-poll) is posted to this connection.
        struct answer_slot {
            std::mutex mutex;
            bool in_handle = true;
            bool answered = false;
            std::optional<http_response> early;
        };
        auto slot = std::make_shared<answer_slot>();
        auto self = shared_from_this();
        std::string failure;
        try {
            st_->handler.handle(std::move(req), [self, slot, rid_copy](http_response res) {
                std::unique_lock lock(slot->mutex);
                if (slot->answered) return;
                slot->answered = true;
                if (slot->in_handle) {
                    slot->early = std::move(res);
                    return;
                }
                lock.unlock();
                net::post(self->stream_.get_executor(), [self, res = std::move(res), rid_copy]() mutable {
                    self->write(std::move(res), rid_copy);
                });
            });
        } catch (const std::exception& e) {
            failure = e.what();
        } catch (...) {
            failure = "an exception of unknown type";
        }
        std::unique_lock lock(slot->mutex);
        slot->in_handle = false;
        if (!failure.empty()) {
            // The last line of defence: a handler that throws (a bug) costs its request a
            // 500 and its connection, not the io thread. Whatever it answered is dropped.
            slot->answered = true;
            lock.unlock();
            return handler_failed(failure, rid_copy);
        }
        if (slot->early) {
            http_response res = std::move(*slot->early);
            lock.unlock();
            write(std::move(res), rid_copy);
        }
    }

    // While a long-poll waits, notice a client that closes its connection, so that what
    // waits for it is released at once.
    void watch_for_hangup() {
        if (!awaiting_answer_ || watching_) return;
        watching_ = true;
        stream_.socket().async_wait(net::socket_base::wait_read, [self = shared_from_this()](beast::error_code ec) {
            if (ec == net::error::operation_aborted) return;  // write() cancelled it
            self->watching_ = false;
            if (ec || !self->awaiting_answer_) return;
            char byte;
            const ssize_t n = ::recv(self->stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                self->awaiting_answer_ = false;
                self->client_gone_->fire();
                return self->close();
            }
            if (n < 0) self->watch_for_hangup();
            // n > 0: a pipelined request; it is read after this answer.
        });
    }

    // A handler threw: logged once, answered 500 with the request id, connection closed.
    void handler_failed(const std::string& what, const std::string& rid) {
        log_error("http: request " + rid + " failed with an exception: " + what);
        reply_error(500, "internal", "the request failed inside ticketd; it was logged as " + rid, rid);
    }

    // An answer to a request that is not read to its end: the connection closes after it
    // (with `linger`, once what the client still sends has been dropped).
    void reply_error(unsigned status, std::string_view code, const std::string& detail, const std::string& rid,
                     bool linger = true) {
        keep_alive_ = false;
        linger_ = linger;
        head_ = false;
        write(st_->handler.protocol_error(status, code, detail, rid), rid);
    }

    template <class Body>
    void fill(http::response<Body>& res, http_response& r, const std::string& rid) {
        res.version(version_);
        res.result(static_cast<http::status>(r.status));
        for (auto& [k, v] : r.headers) res.insert(k, v);
        res.set("X-Request-Id", rid);
        res.keep_alive(keep_alive_);
    }

    void write(http_response r, const std::string& rid) {
        awaiting_answer_ = false;
        release_body_memory();  // the handler is done with the body
        if (watching_) {
            watching_ = false;
            beast::error_code ignored;
            stream_.socket().cancel(ignored);  // ends watch_for_hangup's wait
        }
        if (!stream_.socket().is_open()) return;  // the client went away meanwhile
        stream_.expires_after(st_->config.write_timeout);
        const bool bodyless = head_ || r.status == 204 || r.status == 304;
        if (!r.file_path.empty()) {
            file_part_body::value_type part;
            beast::error_code ec;
            part.file.open(r.file_path.c_str(), beast::file_mode::scan, ec);
            const std::uint64_t size = ec ? 0 : part.file.size(ec);
            if (ec) {
                log_error("http: cannot open " + r.file_path + ": " + ec.message());
                return write(st_->handler.protocol_error(500, "internal", "the result file is unreadable", rid), rid);
            }
            part.length = size;
            if (r.file_part) {
                if (r.file_part->offset > size || r.file_part->length > size - r.file_part->offset) {
                    log_error("http: " + r.file_path + " has " + std::to_string(size) + " bytes, fewer than asked");
                    return write(st_->handler.protocol_error(500, "internal", "the result file is unreadable", rid),
                                 rid);
                }
                part.offset = r.file_part->offset;
                part.length = r.file_part->length;
            }
            if (bodyless) {
                http::response<http::empty_body> res;
                fill(res, r, rid);
                res.content_length(part.length);
                return send(http::message_generator(std::move(res)));
            }
            http::response<file_part_body> res;
            fill(res, r, rid);
            res.body() = std::move(part);
            res.prepare_payload();
            return send(http::message_generator(std::move(res)));
        }
        // Everything else is rendered into one buffer and sent with one write: Beast's
        // message_generator hands at most 12 buffers per write, so a header of our ten
        // fields went out in one segment and the body in a second (two sends, and two
        // wake-ups of the client, per answer).
        out_.clear();
        out_ += version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
        out_ += std::to_string(r.status);
        out_ += ' ';
        const auto reason = http::obsolete_reason(static_cast<http::status>(r.status));
        out_.append(reason.data(), reason.size());
        out_ += "\r\n";
        for (const auto& [k, v] : r.headers) append_field(k, v);
        append_field("X-Request-Id", rid);
        if (version_ == 10 && keep_alive_) append_field("Connection", "keep-alive");
        if (version_ != 10 && !keep_alive_) append_field("Connection", "close");
        if (r.status != 204 && r.status != 304) append_field("Content-Length", std::to_string(r.body.size()));
        out_ += "\r\n";
        if (!bodyless) out_ += r.body;
        net::async_write(stream_, net::buffer(out_), beast::bind_front_handler(&session::on_write, shared_from_this()));
    }

    void append_field(std::string_view name, std::string_view value) {
        out_ += name;
        out_ += ": ";
        out_ += value;
        out_ += "\r\n";
    }

    // A file answer goes out piece by piece, each write within write_timeout: a large
    // result over a slow link finishes as long as it keeps moving.
    void send(http::message_generator&& msg) {
        generator_.emplace(std::move(msg));
        send_piece();
    }
    void send_piece() {
        if (generator_->is_done()) {
            generator_.reset();
            return on_write({}, 0);
        }
        beast::error_code ec;
        const auto buffers = generator_->prepare(ec);
        if (ec) {
            generator_.reset();
            return on_write(ec, 0);
        }
        stream_.expires_after(st_->config.write_timeout);
        stream_.async_write_some(buffers, [self = shared_from_this()](beast::error_code wec, std::size_t n) {
            if (wec) {
                self->generator_.reset();
                return self->on_write(wec, 0);
            }
            self->generator_->consume(n);
            self->send_piece();
        });
    }

    void on_write(beast::error_code ec, std::size_t) {
        if (!ec && !keep_alive_ && linger_) return linger();
        if (ec || !keep_alive_) return close();
        do_read();
    }

    // Closes a connection whose client may still be sending the request we answered early
    // (413, 431, 400, a refused upload): stop sending, then read and drop what still comes
    // (up to 5 s and 64 MiB) before closing, as nginx's lingering close does. Closing with
    // unread bytes makes the kernel reset the connection, and a client still sending (one
    // that did not ask with Expect: 100-continue) would see "connection reset", not our answer.
    void linger() {
        // What was read of the refused request goes now, not when the connection ends: a
        // partial upload's file is deleted, a partial body's memory freed.
        header_parser_.reset();
        body_parser_.reset();
        sink_parser_.reset();
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
        if (ec) return stream_.close();
        stream_.expires_after(std::chrono::seconds(5));  // for all of it
        buffer_.clear();
        drop_input(0);
    }
    void drop_input(uint64_t dropped) {
        static constexpr uint64_t most = 64 << 20;
        stream_.async_read_some(buffer_.prepare(64 * 1024),
                                [self = shared_from_this(), dropped](beast::error_code ec, std::size_t n) {
                                    if (ec || dropped + n >= most) return self->stream_.close();
                                    self->drop_input(dropped + n);
                                });
    }

    void close() {
        beast::error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
        stream_.close();
    }

    beast::basic_stream<tcp, net::io_context::executor_type> stream_;
    beast::flat_buffer buffer_;
    std::string out_;  // the answer being written (kept: its capacity serves the next one)
    std::optional<http::request_parser<http::empty_body>> header_parser_;
    std::optional<http::request_parser<http::string_body>> body_parser_;
    std::optional<http::request_parser<sink_body>> sink_parser_;
    std::optional<http::message_generator> generator_;  // a file answer being sent
    http_request request_;  // being read
    std::chrono::steady_clock::time_point body_start_;
    uint64_t body_received_ = 0;  // bytes of the body read so far
    uint64_t body_reserved_ = 0;  // of st_->body_memory, held until the answer
    std::string head_expect_;
    bool streaming_ = false;
    uint64_t streamed_limit_ = 0;
    std::shared_ptr<http_server::state> st_;
    bool over_capacity_;
    std::string client_;
    std::shared_ptr<client_gone_signal> client_gone_;
    bool awaiting_answer_ = false;
    bool watching_ = false;  // watch_for_hangup's wait is pending
    bool keep_alive_ = true;
    bool linger_ = false;  // close by linger(): the request was answered before it was all read
    bool head_ = false;
    unsigned version_ = 11;
};

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
    st->acceptor.async_accept([st](beast::error_code ec, tcp::socket accepted) {
        if (ec) {
            if (ec == net::error::operation_aborted || !st->accepting.load()) return;
            if (ec == net::error::no_descriptors || ec == beast::errc::too_many_files_open_in_system ||
                ec == net::error::no_buffer_space || ec == net::error::no_memory) {
                // Out of descriptors (or kernel memory): the connection waits in the
                // backlog; try again in 100 ms instead of spinning, and say so once.
                if (!st->accept_starved) {
                    log_warning("http: accept failed: " + ec.message() +
                                "; retrying every 100 ms (raise LimitNOFILE or lower server.max_connections)");
                    st->accept_starved = true;
                }
                st->accept_backoff.expires_after(std::chrono::milliseconds(100));
                st->accept_backoff.async_wait([st](beast::error_code wec) {
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
            beast::error_code moved;
            socket.assign(st->protocol, accepted.release(moved), moved);
            if (moved) {
                log_warning("http: cannot take over an accepted connection: " + moved.message());
            } else {
                // Responses are written whole; never let Nagle hold them back for a delayed ACK.
                beast::error_code ignored;
                socket.set_option(tcp::no_delay(true), ignored);
                beast::error_code peer_ec;
                const auto peer = socket.remote_endpoint(peer_ec);
                std::string client = peer_ec ? std::string() : client_key(peer.address());
                unsigned from_client = 0;
                {
                    std::lock_guard lock(st->clients_mutex);
                    from_client = ++st->clients[client];
                }
                const bool over = st->connections.load() >= st->config.max_connections ||
                                  from_client > st->config.max_connections_per_client;
                std::make_shared<session>(std::move(socket), st, over, std::move(client))->run();
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
    beast::error_code ec;
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
        beast::error_code ec;
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
    beast::error_code ec;
    state_->protocol = local.ss_family == AF_INET ? tcp::v4() : tcp::v6();
    state_->acceptor.assign(state_->protocol, listening_fd, ec);
    if (ec) throw std::runtime_error("socket activation: cannot use fd " + std::to_string(listening_fd) + ": " + ec.message());
    state_->port = state_->acceptor.local_endpoint().port();
    do_accept(state_);
}

uint16_t http_server::port() const { return state_->port; }

unsigned http_server::connections() const { return state_->connections.load(); }

}  // namespace ticketd
