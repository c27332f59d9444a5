// Two Beast bodies of ticketd's: a request body written through a body_sink as it arrives
// (an upload), and a response body that is a part of a file (a result, or its Range).
// Included only by the HTTP session.
#pragma once

#include "http/http_message.hpp"
#include "system/byte_sink.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace ticketd {

// A Beast body that hands each chunk of the request body to a body_sink as it arrives.
struct sink_body {
    using value_type = std::shared_ptr<body_sink>;

    class reader {
       public:
        template <bool isRequest, class Fields>
        reader(boost::beast::http::header<isRequest, Fields>&, value_type& sink) : sink_(sink) {}
        void init(const boost::optional<std::uint64_t>&, boost::beast::error_code& ec) { ec = {}; }
        template <class ConstBufferSequence>
        std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
            std::size_t n = 0;
            for (const auto b : boost::beast::buffers_range_ref(buffers)) {
                if (!sink_ || !sink_->write(static_cast<const char*>(b.data()), b.size())) {
                    ec = boost::beast::errc::make_error_code(boost::beast::errc::io_error);
                    return n;
                }
                n += b.size();
            }
            ec = {};
            return n;
        }
        void finish(boost::beast::error_code& ec) { ec = {}; }

       private:
        value_type& sink_;
    };
};

// A Beast body that sends `length` bytes of a file from `offset`: a whole result, or the
// part a Range asked for (Beast 1.81's file_body sends whole files only). Read in 64 KiB
// pieces as the socket takes them (file_body's are 4 KiB: 16x the reads and sends).
struct file_part_body {
    struct value_type {
        boost::beast::file file;
        uint64_t offset = 0;
        uint64_t length = 0;

        // Opens `path`, whole or only `part` of it; false with `error` when it cannot be
        // read or is shorter than the part asks.
        bool open(const std::string& path, const std::optional<http_response::byte_span>& part, std::string& error) {
            boost::beast::error_code ec;
            file.open(path.c_str(), boost::beast::file_mode::scan, ec);
            const std::uint64_t size = ec ? 0 : file.size(ec);
            if (ec) {
                error = "cannot open " + path + ": " + ec.message();
                return false;
            }
            offset = 0;
            length = size;
            if (!part) return true;
            if (part->offset > size || part->length > size - part->offset) {
                error = path + " has " + std::to_string(size) + " bytes, fewer than asked";
                return false;
            }
            offset = part->offset;
            length = part->length;
            return true;
        }
    };
    static std::uint64_t size(const value_type& v) { return v.length; }

    class writer {
       public:
        using const_buffers_type = boost::asio::const_buffer;
        template <bool isRequest, class Fields>
        writer(boost::beast::http::header<isRequest, Fields>&, value_type& v) : body_(v), remain_(v.length) {}
        void init(boost::beast::error_code& ec) { body_.file.seek(body_.offset, ec); }
        boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
            const auto amount = static_cast<std::size_t>(std::min<std::uint64_t>(remain_, buf_.size()));
            if (amount == 0) {
                ec = {};
                return boost::none;
            }
            const std::size_t n = body_.file.read(buf_.data(), amount, ec);
            if (ec) return boost::none;
            if (n == 0) {  // the file is shorter than it was: the answer cannot be completed
                ec = boost::beast::http::error::short_read;
                return boost::none;
            }
            remain_ -= n;
            return {{boost::asio::const_buffer(buf_.data(), n), remain_ > 0}};
        }

       private:
        value_type& body_;
        std::uint64_t remain_;
        std::array<char, 64 * 1024> buf_;
    };
};

}  // namespace ticketd
