// Idempotency-Key bindings in memory, per principal. A key is either being committed
// (a concurrent request gets 409 in-progress) or bound to a job (replay or 422), or
// bound to a deleted job (409). Only a committed accept binds; failures release.
// Guarded by job_engine's mutex.
//
// Every live key of every principal stays here (a submit must not wait for the disk to
// learn that its key is new), so an entry is kept small, 40 bytes stored in place in
// flat tables (sharded_map.hpp, filled 44-88 %): the key is the first
// 128 bits of SHA-256(principal, key), the request's fingerprint its first 128 bits, two
// flags and the binding's seq (its row in the store).
// Which job a key is bound to is not kept: a retry (rare) reads it from the store by that
// seq. Collisions of 128-bit SHA-256 prefixes are not a practical concern
// (content-addressed stores rely on less).
#pragma once

#include "embedded/sharded_map.hpp"
#include "store/job_store.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace ticketd {

class idempotency_index {
   public:
    struct entry {
        bool committing = false;
        bool job_deleted = false;
        bool same_request = false;  // the fingerprint asked about matches the bound one
        int64_t seq = 0;            // the binding's (idempotency_binding::seq), once bound
    };

    // What a (principal, key) is looked up by: worked out once per request, and outside
    // the engine's lock (it is a SHA-256).
    using digest = std::array<uint64_t, 2>;
    static digest key_of(const std::string& principal, const std::string& key);

    std::optional<entry> find(const digest& key, const std::string& fingerprint) const;
    // Claims a free key for an accept in progress.
    void reserve(const digest& key, const std::string& fingerprint);
    void release(const std::string& principal, const std::string& key);
    void bind(const digest& key, const idempotency_binding& b);
    void bind(const idempotency_binding& b) { bind(key_of(b.principal, b.key), b); }  // recovery
    void mark_deleted(const std::string& principal, const std::string& key);
    void erase(const std::string& principal, const std::string& key);
    size_t size() const { return keys_.size(); }
    void reserve(size_t n) { keys_.reserve(n); }

   private:
    struct digest_hash {
        using is_avalanching = void;  // SHA-256 bits: no mixing needed
        size_t operator()(const digest& d) const noexcept { return static_cast<size_t>(d[0]); }
    };
    struct slot {  // 24 bytes: the flags share the seq's word
        digest fingerprint{};
        int64_t seq : 62 = 0;
        bool committing : 1 = false;
        bool job_deleted : 1 = false;
    };
    static_assert(sizeof(slot) == 24);
    static digest fingerprint_of(const std::string& fingerprint);

    struct digest_shard {  // other bits than digest_hash's
        size_t operator()(const digest& d) const noexcept { return static_cast<size_t>(d[1]); }
    };
    sharded_map<digest, slot, digest_hash, digest_shard> keys_;
};

}  // namespace ticketd
