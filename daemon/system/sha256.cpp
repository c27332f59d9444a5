#include "system/sha256.hpp"

#include "system/hex.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace ticketd {

namespace {
struct md_context {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~md_context() { EVP_MD_CTX_free(ctx); }
};

// Fetched once: OpenSSL 3 looks the algorithm up by name in every call handed EVP_sha256()
// (about as long as hashing a short key), and a context per thread is made once too.
const EVP_MD* sha256_md() {
    static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (md == nullptr) throw std::runtime_error("OpenSSL has no SHA256");
    return md;
}
}  // namespace

std::array<unsigned char, 32> sha256(std::string_view data) {
    thread_local const md_context per_thread;
    std::array<unsigned char, 32> digest{};
    unsigned int size = 0;
    EVP_MD_CTX* ctx = per_thread.ctx;
    if (ctx == nullptr || EVP_DigestInit_ex(ctx, sha256_md(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx, data.data(), data.size()) != 1 || EVP_DigestFinal_ex(ctx, digest.data(), &size) != 1 ||
        size != 32) {
        throw std::runtime_error("SHA-256 failed");
    }
    return digest;
}

std::string sha256_hex(std::string_view data) {
    const auto digest = sha256(data);
    return to_hex(digest.data(), digest.size());
}

struct sha256_stream::impl : md_context {};

sha256_stream::sha256_stream() : impl_(std::make_unique<impl>()) {
    if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, sha256_md(), nullptr) != 1) {
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
