// One class, longer than most files here (about 580 lines): a connection is one state
// machine (TLS handshake, read the head, read or stream the body, dispatch, write, linger,
// close) whose steps share the connection's buffers, parsers, deadlines and flags; split
// over files, its transitions could no longer be read in one place. It is a template on
// its stream, plain TCP or TLS over it: the same code serves both. What does not depend
// on the stream is in files of their own: rendering an answer, what a failed read calls
// for and the hang-up probe (connection_io), Beast's bodies, the checks of a request's
// head, the TLS credentials and the listener.
#include "http/session.hpp"

#include "http/beast_bodies.hpp"
#include "http/connection_io.hpp"
#include "http/request_head.hpp"
#include "http/tls_credentials.hpp"
#include "system/log.hpp"
#include "system/random_id.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>


#include <algorithm>
#include <cctype>
#include <mutex>
#include <optional>
#include <type_traits>

namespace ticketd {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

using plain_stream = beast::basic_stream<tcp, net::io_context::executor_type>;
using tls_stream = beast::ssl_stream<plain_stream>;

template <class Stream>
class session : public std::enable_shared_from_this<session<Stream>> {
    static constexpr bool tls = std::is_same_v<Stream, tls_stream>;
    using std::enable_shared_from_this<session<Stream>>::shared_from_this;
    using std::enable_shared_from_this<session<Stream>>::weak_from_this;

   public:
    // `client` is the peer's address as a key; the caller has counted it in st->clients.
    // `credentials`: the TLS context to handshake with (a TLS session only).
    session(connection_socket&& socket, std::shared_ptr<const tls_credentials> credentials,
            std::shared_ptr<http_server::state> st, bool over_capacity, std::string client)
        : credentials_(std::move(credentials)),
          stream_(make_stream(std::move(socket), credentials_.get())),
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
                // No lingering here: a connection over a cap is shed at once (a TLS one
                // before its handshake: an answer would cost the handshake it is shed to save).
                if constexpr (tls) return self->close();
                self->reply_error(503, "unavailable", "too many connections (from this address, or in all); retry later",
                                  new_random_id(), false);
            } else if constexpr (tls) {
                self->handshake();
            } else {
                self->do_read();
            }
        });
    }

   private:
    static Stream make_stream(connection_socket&& socket, const tls_credentials* credentials) {
        if constexpr (tls) return Stream(std::move(socket), credentials->context());
        else return Stream(std::move(socket));
    }
    // The TCP stream under TLS (or the stream itself): its deadlines and its socket.
    plain_stream& tcp_layer() { return beast::get_lowest_layer(stream_); }

    // A failed handshake (a scanner, an untrusted or expired client certificate) closes
    // the connection without a log line: clients can make as many as they like.
    void handshake() {
        tcp_layer().expires_after(st_->config.tls.handshake_timeout);
        stream_.async_handshake(net::ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
            if (ec) return self->close();
            self->handshaken_ = true;
            if (self->credentials_->verifies_clients()) self->peer_ = peer_certificate_of(self->stream_.native_handle());
            self->do_read();
        });
    }

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
        tcp_layer().expires_after(st_->config.idle_timeout);
        stream_.async_read_some(buffer_.prepare(8192),
                                beast::bind_front_handler(&session<Stream>::on_first_bytes, shared_from_this()));
    }

    void on_first_bytes(beast::error_code ec, std::size_t n) {
        if (ec) return close();
        buffer_.commit(n);
        read_request();
    }

    void read_request() {
        // The whole request must arrive within request_timeout: a trickling client is cut off.
        tcp_layer().expires_after(st_->config.request_timeout);
        http::async_read_header(stream_, buffer_, *header_parser_,
                                beast::bind_front_handler(&session<Stream>::on_header, shared_from_this()));
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
            if (!header_parser_->is_done()) {  // a body that is never read ends the connection
                keep_alive_ = false;
                linger_ = true;
                head_ = false;
            }
            return write(std::move(*plan.reject), request_.request_id);
        }
        request_.handler_note = std::move(plan.note);
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
        if (streaming_) tcp_layer().expires_at(streamed_body_deadline());
        stream_.async_read_some(buffer_.prepare(64 * 1024),
                                [self = shared_from_this(), &parser](beast::error_code rec, std::size_t n) {
                                    if (rec == net::error::eof || rec == net::ssl::error::stream_truncated) {
                                        rec = http::error::partial_message;
                                    }
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
        request_.method = std::string(msg.method_string());
        request_.target = std::string(msg.target());
        for (const auto& field : msg) {
            std::string name(field.name_string());
            for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            request_.headers.emplace_back(std::move(name), std::string(field.value()));
        }
        head_expect_ = std::string(msg[http::field::expect]);
        request_.peer = peer_;
        if (const auto problem = check_request_head(request_, msg.version(), request_id); !problem.empty()) {
            reply_error(400, "invalid-request", problem, request_id);
            return false;
        }
        return true;
    }

    void on_read(beast::error_code ec, std::size_t, uint64_t limit = 0) {
        const bool storage_full = ec == beast::errc::io_error && streaming_ && sink_parser_ &&
                                  sink_parser_->get().body() && sink_parser_->get().body()->out_of_space();
        if (ec == beast::errc::io_error) sink_parser_.reset();  // what was stored goes now, not after the linger
        const auto refusal =
            refusal_for(ec, limit ? limit : st_->config.max_body_bytes, st_->config.max_header_bytes, storage_full);
        if (!refusal) return close();
        reply_error(refusal->status, refusal->code, refusal->detail,
                    request_.request_id.empty() ? new_random_id() : request_.request_id);
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
        tcp_layer().socket().async_wait(net::socket_base::wait_read, [self = shared_from_this()](beast::error_code ec) {
            if (ec == net::error::operation_aborted) return;  // write() cancelled it
            self->watching_ = false;
            if (ec || !self->awaiting_answer_) return;
            const hangup seen = probe_hangup(self->tcp_layer().socket().native_handle(), tls);
            if (seen == hangup::gone) {
                self->awaiting_answer_ = false;
                self->client_gone_->fire();
                return self->close_now();  // no TLS goodbye: the client is gone
            }
            if (seen == hangup::none) self->watch_for_hangup();
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
            tcp_layer().socket().cancel(ignored);  // ends watch_for_hangup's wait
        }
        if (!tcp_layer().socket().is_open()) return;  // the client went away meanwhile
        tcp_layer().expires_after(st_->config.write_timeout);
        const bool bodyless = head_ || r.status == 204 || r.status == 304;
        if (!r.file_path.empty()) {
            file_part_body::value_type part;
            if (std::string error; !part.open(r.file_path, r.file_part, error)) {
                log_error("http: " + error);
                return write(st_->handler.protocol_error(500, "internal", "the result file is unreadable", rid), rid);
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
        render_answer(out_, r, rid, version_, keep_alive_, bodyless);
        net::async_write(stream_, net::buffer(out_), beast::bind_front_handler(&session<Stream>::on_write, shared_from_this()));
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
        tcp_layer().expires_after(st_->config.write_timeout);
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
        tcp_layer().socket().shutdown(tcp::socket::shutdown_send, ec);
        if (ec) return tcp_layer().close();
        tcp_layer().expires_after(std::chrono::seconds(5));  // for all of it
        buffer_.clear();
        drop_input(0);
    }
    void drop_input(uint64_t dropped) {
        static constexpr uint64_t most = 64 << 20;
        // Raw bytes off the TCP stream, under TLS too: they are dropped, not decrypted.
        tcp_layer().async_read_some(buffer_.prepare(64 * 1024),
                                [self = shared_from_this(), dropped](beast::error_code ec, std::size_t n) {
                                    if (ec || dropped + n >= most) return self->tcp_layer().close();
                                    self->drop_input(dropped + n);
                                });
    }

    // Under TLS, once the handshake is done, close_notify goes first (RFC 8446 6.1): a
    // client that reads to the end can tell the end from a cut. The goodbye gets 2 s; a
    // connection that broke or timed out fails it at once.
    void close() {
        if constexpr (tls) {
            if (handshaken_ && !closing_) {
                closing_ = true;
                tcp_layer().expires_after(std::chrono::seconds(2));
                stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->close_now(); });
                return;
            }
        }
        close_now();
    }
    void close_now() {
        beast::error_code ec;
        tcp_layer().socket().shutdown(tcp::socket::shutdown_send, ec);
        tcp_layer().close();
    }

    std::shared_ptr<const tls_credentials> credentials_;  // the connection's TLS context: outlives stream_
    Stream stream_;
    std::shared_ptr<const peer_certificate> peer_;        // the verified client certificate (mTLS)
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
    bool handshaken_ = false;  // TLS: the handshake succeeded (a goodbye can be said)
    bool closing_ = false;     // TLS: close_notify is being sent
};

}  // namespace

void start_session(connection_socket&& socket, std::shared_ptr<http_server::state> st, bool over_capacity,
                   std::string client) {
    if (auto credentials = st->tls.load()) {
        std::make_shared<session<tls_stream>>(std::move(socket), std::move(credentials), std::move(st), over_capacity,
                                              std::move(client))
            ->run();
    } else {
        std::make_shared<session<plain_stream>>(std::move(socket), nullptr, std::move(st), over_capacity,
                                                std::move(client))
            ->run();
    }
}

}  // namespace ticketd
