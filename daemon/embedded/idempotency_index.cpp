#include "embedded/idempotency_index.hpp"

#include "system/hex.hpp"
#include "system/sha256.hpp"

#include <cstring>

namespace ticketd {

namespace {
template <class T>
T prefix_of(const std::array<unsigned char, 32>& sha) {
    T out{};
    std::memcpy(out.data(), sha.data(), sizeof out);
    return out;
}

}  // namespace

idempotency_index::digest idempotency_index::key_of(const std::string& principal, const std::string& key) {
    std::string material;
    material.reserve(principal.size() + 1 + key.size());
    material.append(principal).append(1, '\0').append(key);  // NUL: a principal never contains one
    return prefix_of<digest>(sha256(material));
}

idempotency_index::digest idempotency_index::fingerprint_of(const std::string& fingerprint) {
    // The API's fingerprints are SHA-256 hex already: keep their first 128 bits.
    if (std::array<uint8_t, 16> bytes{};
        fingerprint.size() == 64 && from_hex(std::string_view(fingerprint).substr(0, 32), bytes.data())) {
        digest out{};
        std::memcpy(out.data(), bytes.data(), sizeof out);
        return out;
    }
    return prefix_of<digest>(sha256(fingerprint));
}

std::optional<idempotency_index::entry> idempotency_index::find(const digest& key,
                                                                const std::string& fingerprint) const {
    const slot* s = keys_.find(key);
    if (s == nullptr) return std::nullopt;
    entry e;
    e.committing = s->committing;
    e.job_deleted = s->job_deleted;
    e.same_request = s->fingerprint == fingerprint_of(fingerprint);
    e.seq = s->seq;
    return e;
}

void idempotency_index::reserve(const digest& key, const std::string& fingerprint) {
    keys_[key] = slot{fingerprint_of(fingerprint), 0, true, false};
}

void idempotency_index::release(const std::string& principal, const std::string& key) {
    const auto d = key_of(principal, key);
    if (const slot* s = keys_.find(d); s != nullptr && s->committing) keys_.erase(d);
}

void idempotency_index::bind(const digest& key, const idempotency_binding& b) {
    keys_[key] = slot{fingerprint_of(b.fingerprint), b.seq, false, b.job_deleted};
}

void idempotency_index::mark_deleted(const std::string& principal, const std::string& key) {
    if (slot* s = keys_.find(key_of(principal, key))) s->job_deleted = true;
}

void idempotency_index::erase(const std::string& principal, const std::string& key) {
    keys_.erase(key_of(principal, key));
}

}  // namespace ticketd
