// The request headers the protocol gives meaning to (Authorization included), and
// percent-decoding: the input is a request target on its first line, then header lines
// "name: value".
#include "api/request_headers.hpp"
#include "auth/authenticator.hpp"
#include "fuzz_support.hpp"
#include "system/sha256.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

using namespace ticketd;

namespace {
// An Idempotency-Key is RFC 8941 sf-string characters: printable ASCII, spaces included.
bool printable_ascii(std::string_view s) {
    for (unsigned char c : s) {
        if (c < 0x20 || c > 0x7e) return false;
    }
    return true;
}
// What a header value may hold: printable ASCII and tabs.
bool header_safe(std::string_view s) {
    for (unsigned char c : s) {
        if ((c < 0x20 && c != '\t') || c > 0x7e) return false;
    }
    return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    http_request req;
    req.method = "GET";
    size_t at = 0;
    bool first = true;
    while (at <= input.size()) {
        const size_t end = std::min(input.find('\n', at), input.size());
        const std::string_view line = input.substr(at, end - at);
        at = end + 1;
        if (first) {
            req.target = std::string(line);
            first = false;
            continue;
        }
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string name(line.substr(0, colon));
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        req.headers.emplace_back(std::move(name), std::string(line.substr(colon + 1)));
    }

    for (bool plus : {false, true}) {
        std::string out;
        if (percent_decode(req.target, out, plus) && out.size() > req.target.size()) {
            fuzz::violated("percent_decode grew its input");
        }
    }

    std::string key;
    if (parse_idempotency_key(req, key) == key_parse::ok && (key.empty() || key.size() > 255 || !printable_ascii(key))) {
        fuzz::violated("an accepted Idempotency-Key outside 1..255 printable ASCII characters");
    }
    if (const auto wait = prefer_wait(req); wait && *wait < 0) fuzz::violated("a negative Prefer: wait");
    (void)if_none_match(req, "\"0123456789abcdef\"");
    for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{1000}, UINT64_MAX}) {
        const auto r = requested_range(req, size, "\"0123456789abcdef\"");
        if (r.kind == range_answer::part && (r.length == 0 || r.first >= size || r.length > size - r.first)) {
            fuzz::violated("a Range part outside the representation");
        }
    }
    // One known key, whose token is in the seed corpus (corpus/request_headers/authorization):
    // only that exact token (after a caseless "Bearer ") is let in.
    static const std::string known_token = "tkd_0123456789abcdef_0123456789ABCDEFGHIJabcdefghij01";
    static const auto auth = [] {
        api_key key;
        key.id = "0123456789abcdef";
        key.principal = "fuzz";
        std::string error;
        key.scopes = *scope_set::parse({"jobs:read"}, error);
        key.token_sha256 = sha256(known_token);
        auto a = std::make_unique<authenticator>(auth_mode::api_keys);
        a->set_keys({key});
        return a;
    }();
    const auto authorization = req.header("authorization");
    if (auth->authenticate(authorization, 1).failure == auth_failure::none &&
        authorization->substr(authorization->size() - std::min(authorization->size(), known_token.size())) != known_token) {
        fuzz::violated("a request authenticated without the key's token");
    }
    for (const auto& [name, value] : req.headers) {
        (void)is_json_media_type(value);
        if (is_media_type(value) && !header_safe(value)) fuzz::violated("a media type that is not visible ASCII");
    }
    return 0;
}
