// SHA-256 (OpenSSL's libcrypto) as lowercase hex: idempotency fingerprints, page tokens.
#pragma once

#include <string>
#include <string_view>

namespace ticketd {

std::string sha256_hex(std::string_view data);

}  // namespace ticketd
