#include "api/request_headers.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

namespace ticketd {

namespace {
std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}
}  // namespace

key_parse parse_idempotency_key(const http_request& req, std::string& key) {
    const size_t count = req.header_count("idempotency-key");
    if (count == 0) return key_parse::absent;
    if (count > 1) return key_parse::invalid;
    std::string_view raw = trim(*req.header("idempotency-key"));
    key.clear();
    if (raw.size() >= 2 && raw.front() == '"' && raw.back() == '"') {
        raw = raw.substr(1, raw.size() - 2);
        for (size_t i = 0; i < raw.size(); ++i) {
            char c = raw[i];
            if (c == '\\') {
                if (i + 1 >= raw.size() || (raw[i + 1] != '"' && raw[i + 1] != '\\')) return key_parse::invalid;
                c = raw[++i];
            } else if (c == '"') {
                return key_parse::invalid;
            }
            if (c < 0x20 || c > 0x7E) return key_parse::invalid;
            key.push_back(c);
        }
    } else {
        for (char c : raw) {
            if (c <= 0x20 || c > 0x7E || c == '"') return key_parse::invalid;
            key.push_back(c);
        }
    }
    if (key.empty() || key.size() > 255) return key_parse::invalid;
    return key_parse::ok;
}

std::optional<long> prefer_wait(const http_request& req) {
    for (const auto& [name, value] : req.headers) {
        if (name != "prefer") continue;
        std::string_view rest = value;
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            std::string_view pref = trim(rest.substr(0, comma));
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
            const auto semi = pref.find(';');
            pref = trim(pref.substr(0, semi));
            const auto eq = pref.find('=');
            if (eq == std::string_view::npos || lower(trim(pref.substr(0, eq))) != "wait") continue;
            std::string_view number = trim(pref.substr(eq + 1));
            if (number.size() >= 2 && number.front() == '"' && number.back() == '"') {
                number = number.substr(1, number.size() - 2);
            }
            long seconds = 0;
            auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), seconds);
            if (ec != std::errc() || p != number.data() + number.size() || seconds < 0) return std::nullopt;
            return seconds;
        }
    }
    return std::nullopt;
}

bool if_none_match(const http_request& req, const std::string& etag) {
    auto header = req.header("if-none-match");
    if (!header) return false;
    std::string_view rest = *header;
    auto opaque = [](std::string_view t) {
        t = trim(t);
        if (t.size() >= 2 && (t.substr(0, 2) == "W/" || t.substr(0, 2) == "w/")) t.remove_prefix(2);
        return t;
    };
    const std::string_view mine = opaque(etag);
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string_view tag = trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (tag == "*" || opaque(tag) == mine) return true;
    }
    return false;
}

namespace {
// 1*DIGIT, the whole of `t`, as a uint64_t (nullopt when empty, not digits, or too big).
std::optional<uint64_t> digits(std::string_view t) {
    uint64_t v = 0;  // from_chars takes no sign, space or prefix for an unsigned type
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || end != t.data() + t.size()) return {};
    return v;
}
}  // namespace

range_answer requested_range(const http_request& req, uint64_t size, std::string_view etag) {
    const range_answer whole;
    if (req.method != "GET" || req.header_count("range") != 1 || size == 0) return whole;
    // If-Range: the Range counts only while the client's copy is the current one (a strong
    // ETag, compared strongly; a date never matches: results carry no Last-Modified).
    if (const auto if_range = req.header("if-range"); if_range && trim(*if_range) != etag) return whole;
    std::string_view spec = trim(*req.header("range"));
    const auto eq = spec.find('=');
    if (eq == std::string_view::npos || lower(trim(spec.substr(0, eq))) != "bytes") return whole;
    spec = spec.substr(eq + 1);
    // One range only; several (or none) are answered whole rather than as multipart.
    std::string_view one;
    while (!spec.empty()) {
        const auto comma = spec.find(',');
        const std::string_view element = trim(spec.substr(0, comma));
        spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
        if (element.empty()) continue;
        if (!one.empty()) return whole;
        one = element;
    }
    const auto dash = one.find('-');
    if (dash == std::string_view::npos) return whole;
    range_answer part{range_answer::part};
    if (dash == 0) {  // suffix-range: the last N bytes
        const auto n = digits(one.substr(1));
        if (!n) return whole;
        if (*n == 0) return {range_answer::unsatisfiable};
        part.length = std::min(*n, size);
        part.first = size - part.length;
        return part;
    }
    const auto first = digits(one.substr(0, dash));
    const std::string_view last_text = one.substr(dash + 1);
    const auto last = last_text.empty() ? std::optional<uint64_t>(UINT64_MAX) : digits(last_text);
    if (!first || !last || *last < *first) return whole;  // invalid: ignored
    if (*first >= size) return {range_answer::unsatisfiable};
    part.first = *first;
    part.length = std::min(*last, size - 1) - *first + 1;
    return part;
}

bool parse_whole_number(std::string_view text, long& out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace ticketd
