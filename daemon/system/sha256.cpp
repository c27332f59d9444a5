#include "system/sha256.hpp"

#include "system/hex.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace ticketd {

std::array<unsigned char, 32> sha256(std::string_view data) {
    std::array<unsigned char, 32> digest{};
    unsigned int size = 0;
    if (EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 || size != 32) {
        throw std::runtime_error("EVP_Digest(sha256) failed");
    }
    return digest;
}

std::string sha256_hex(std::string_view data) {
    const auto digest = sha256(data);
    return to_hex(digest.data(), digest.size());
}

struct sha256_stream::impl {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~impl() { EVP_MD_CTX_free(ctx); }
};

sha256_stream::sha256_stream() : impl_(std::make_unique<impl>()) {
    if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("EVP_DigestInit_ex(sha256) failed");
    }
}

sha256_stream::~sha256_stream() = default;

void sha256_stream::update(const void* data, size_t size) {
    if (EVP_DigestUpdate(impl_->ctx, data, size) != 1) throw std::runtime_error("EVP_DigestUpdate failed");
}

std::string sha256_stream::finish_hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_DigestFinal_ex(impl_->ctx, digest, &size) != 1) throw std::runtime_error("EVP_DigestFinal_ex failed");
    return to_hex(digest, size);
}

}  // namespace ticketd
