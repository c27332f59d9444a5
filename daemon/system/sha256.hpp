// SHA-256 (OpenSSL's libcrypto) as lowercase hex: idempotency fingerprints, page tokens,
// upload digests.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>

namespace ticketd {

std::array<unsigned char, 32> sha256(std::string_view data);
std::string sha256_hex(std::string_view data);

// Incremental SHA-256 for data that arrives in pieces (an upload being streamed to disk).
class sha256_stream {
   public:
    sha256_stream();
    ~sha256_stream();
    sha256_stream(const sha256_stream&) = delete;
    sha256_stream& operator=(const sha256_stream&) = delete;

    void update(const void* data, size_t size);
    std::string finish_hex();  // once

   private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace ticketd
