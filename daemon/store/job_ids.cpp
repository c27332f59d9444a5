#include "store/job_ids.hpp"

#include "system/hex.hpp"
#include "system/random_id.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace ticketd {

struct job_ids::cipher {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();

    cipher(const key& k, bool encrypt) {
        // One 16-byte block in, one out: ECB is the bare block cipher here (each id is a
        // single block, and no two blocks are ever the same: the seq differs).
        if (!ctx || EVP_CipherInit_ex(ctx, EVP_aes_128_ecb(), nullptr, k.data(), nullptr, encrypt ? 1 : 0) != 1 ||
            EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
            EVP_CIPHER_CTX_free(ctx);
            throw std::runtime_error("OpenSSL: cannot set up AES-128 for job ids");
        }
    }
    ~cipher() { EVP_CIPHER_CTX_free(ctx); }

    std::array<uint8_t, 16> run(const std::array<uint8_t, 16>& in) {
        std::array<uint8_t, 16> out{};
        int size = 0;
        if (EVP_CipherUpdate(ctx, out.data(), &size, in.data(), static_cast<int>(in.size())) != 1 || size != 16) {
            throw std::runtime_error("OpenSSL: AES-128 failed on a job id");
        }
        return out;
    }
};

job_ids::key job_ids::new_key() {
    key k{};
    random_bytes(k.data(), k.size());
    return k;
}

job_ids::job_ids(const key& k)
    : encrypt_(std::make_unique<cipher>(k, true)), decrypt_(std::make_unique<cipher>(k, false)) {}

job_ids::~job_ids() = default;

std::string job_ids::make(int64_t seq) const {
    std::array<uint8_t, 16> block{};
    const auto s = static_cast<uint64_t>(seq);
    for (int i = 0; i < 8; ++i) block[static_cast<size_t>(i)] = static_cast<uint8_t>(s >> (56 - 8 * i));
    random_bytes(block.data() + 8, 8);
    std::array<uint8_t, 16> id;
    {
        std::lock_guard lock(mutex_);
        id = encrypt_->run(block);
    }
    return to_hex(id.data(), id.size());
}

std::optional<int64_t> job_ids::seq_of(std::string_view id) const {
    std::array<uint8_t, 16> bytes{};
    if (id.size() != 32 || !from_hex(id, bytes.data())) return std::nullopt;
    std::array<uint8_t, 16> block;
    {
        std::lock_guard lock(mutex_);
        block = decrypt_->run(bytes);
    }
    uint64_t s = 0;
    for (size_t i = 0; i < 8; ++i) s = s << 8 | block[i];
    return static_cast<int64_t>(s);
}

}  // namespace ticketd
