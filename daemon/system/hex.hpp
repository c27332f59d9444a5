// Lowercase hex, both ways: ids, digests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ticketd {

inline std::string to_hex(const void* data, size_t size) {
    static constexpr char digits[] = "0123456789abcdef";
    const auto* bytes = static_cast<const uint8_t*>(data);
    std::string out(size * 2, '0');
    for (size_t i = 0; i < size; ++i) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0xF];
    }
    return out;
}

// Fills out[0 .. text.size() / 2); false unless `text` is lowercase hex of even length.
inline bool from_hex(std::string_view text, uint8_t* out) {
    if (text.size() % 2 != 0) return false;
    const auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    for (size_t i = 0; i < text.size(); i += 2) {
        const int hi = nibble(text[i]);
        const int lo = nibble(text[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i / 2] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return true;
}

}  // namespace ticketd
