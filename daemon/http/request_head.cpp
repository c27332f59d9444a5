#include "http/request_head.hpp"

#include "system/utf8.hpp"

#include <algorithm>
#include <cctype>

namespace ticketd {

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

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace

std::string check_request_head(http_request& req, unsigned version, const std::string& request_id) {
    const auto q = req.target.find('?');
    // A URL's text must be UTF-8 once decoded (RFC 3986 2.5): what is not is refused
    // here, so that no handler can echo a malformed byte into a document.
    if (!percent_decode(std::string_view(req.target).substr(0, q), req.path, false)) {
        return "malformed percent-encoding in the path";
    }
    if (!is_valid_utf8(req.path)) return "the path is not valid UTF-8 once percent-decoded";
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
                return "malformed percent-encoding in the query";
            }
            if (!is_valid_utf8(k) || !is_valid_utf8(v)) return "the query is not valid UTF-8 once percent-decoded";
            req.query.emplace_back(std::move(k), std::move(v));
        }
    }
    // Request smuggling (RFC 9112 6.1, 6.3): a request framed in a way a proxy in front
    // may read differently is refused, and its connection closed. ticketd reads one
    // Content-Length of digits, or a lone "chunked"; Beast refuses the two together, but
    // would pass a repeated Content-Length of one value, and "gzip" (unframed).
    const size_t lengths = req.header_count("content-length");
    if (lengths > 1 || (lengths == 1 && !all_digits(trim(*req.header("content-length"))))) {
        return "Content-Length must be sent once, as digits only";
    }
    const size_t codings = req.header_count("transfer-encoding");
    if (codings > 0) {
        const bool lone_chunked = codings == 1 && equals_ignoring_case(trim(*req.header("transfer-encoding")), "chunked");
        if (!lone_chunked || version < 11) {
            return "Transfer-Encoding must be exactly 'chunked' (once, on HTTP/1.1); no other coding is read";
        }
    }
    auto rid = req.header("x-request-id");
    req.request_id = rid && valid_request_id(*rid) ? std::string(*rid) : request_id;
    return {};
}

}  // namespace ticketd
