// Idempotency-Key bindings in memory, per principal. A key is either being committed
// (a concurrent request gets 409 in-progress) or bound to a job (replay or 422), or
// bound to a deleted job (409). Only a committed accept binds; failures release.
// Guarded by job_engine's mutex.
//
// Every live key of every principal stays here (a submit must not wait for the disk to
// learn that its key is new), so an entry is kept small, about 64 bytes with the hash
// table's share: the key is the first 128 bits of SHA-256(principal, key), the request's
// fingerprint its first 128 bits, two flags and the binding's seq (its row in the store).
// Which job a key is bound to is not kept: a retry (rare) reads it from the store by that
// seq. Collisions of 128-bit SHA-256 prefixes are not a practical concern
// (content-addressed stores rely on less).
#pragma once

#include "store/job_store.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <memory_resource>
#include <unordered_map>
#include <vector>

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

    idempotency_index();

    std::optional<entry> find(const digest& key, const std::string& fingerprint) const;
    // Claims a free key for an accept in progress.
    void reserve(const digest& key, const std::string& fingerprint);
    void release(const std::string& principal, const std::string& key);
    void bind(const digest& key, const idempotency_binding& b);
    void bind(const idempotency_binding& b) { bind(key_of(b.principal, b.key), b); }  // recovery
    void mark_deleted(const std::string& principal, const std::string& key);
    void erase(const std::string& principal, const std::string& key);
    size_t size() const;
    void reserve(size_t n);

   private:
    struct digest_hash {
        size_t operator()(const digest& d) const noexcept { return static_cast<size_t>(d[0]); }
    };
    struct slot {
        digest fingerprint{};
        int64_t seq = 0;
        bool committing = false;
        bool job_deleted = false;
    };
    static digest fingerprint_of(const std::string& fingerprint);

    // The entries come from a pool of their own: they live for days, while everything
    // else the size of one is short-lived; mixed in the allocator's general slabs, a
    // drained backlog would leave those slabs pinned by scattered keys.
    std::pmr::unsynchronized_pool_resource pool_;
    // In 64 tables (by other bits of the digest than the tables' hash): a table that
    // grows moves all its entries at once, under the engine's lock. One table of 500k
    // keys stalled every request for ~50 ms (p99.9 of an accept run 13 -> 60 ms);
    // 64 tables each move 1/64 of that, at different times.
    using table = std::pmr::unordered_map<digest, slot, digest_hash>;
    static constexpr size_t table_count = 64;
    std::vector<table> tables_;
    table& table_of(const digest& d) { return tables_[d[1] % table_count]; }
    const table& table_of(const digest& d) const { return tables_[d[1] % table_count]; }
};

}  // namespace ticketd
