#include "jobs/idempotency_index.hpp"

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

idempotency_index::idempotency_index() {
    tables_.reserve(table_count);
    for (size_t i = 0; i < table_count; ++i) tables_.emplace_back();
}

size_t idempotency_index::size() const {
    size_t n = 0;
    for (const auto& t : tables_) n += t.size();
    return n;
}

void idempotency_index::reserve(size_t n) {
    for (auto& t : tables_) t.reserve(n / table_count + 1);
}

std::optional<idempotency_index::entry> idempotency_index::find(const digest& key,
                                                                const std::string& fingerprint) const {
    const auto& keys = table_of(key);
    const auto it = keys.find(key);
    if (it == keys.end()) return std::nullopt;
    const slot& s = it->second;
    entry e;
    e.committing = s.committing;
    e.job_deleted = s.job_deleted;
    e.same_request = s.fingerprint == fingerprint_of(fingerprint);
    e.seq = s.seq;
    return e;
}

void idempotency_index::reserve(const digest& key, const std::string& fingerprint) {
    table_of(key)[key] = slot{fingerprint_of(fingerprint), 0, true, false};
}

void idempotency_index::release(const std::string& principal, const std::string& key) {
    const auto d = key_of(principal, key);
    auto& keys = table_of(d);
    auto it = keys.find(d);
    if (it != keys.end() && it->second.committing) keys.erase(it);
}

void idempotency_index::bind(const digest& key, const idempotency_binding& b) {
    table_of(key)[key] = slot{fingerprint_of(b.fingerprint), b.seq, false, b.job_deleted};
}

void idempotency_index::mark_deleted(const std::string& principal, const std::string& key) {
    const auto d = key_of(principal, key);
    auto& keys = table_of(d);
    auto it = keys.find(d);
    if (it != keys.end()) it->second.job_deleted = true;
}

void idempotency_index::erase(const std::string& principal, const std::string& key) {
    const auto d = key_of(principal, key);
    table_of(d).erase(d);
}

}  // namespace ticketd
