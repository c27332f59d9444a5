// Idempotency-Key bindings in memory, per principal. A key is either being committed
// (a concurrent request gets 409 in-progress) or bound to a job (replay or 422), or
// bound to a deleted job (409). Only a committed accept binds; failures release.
// Guarded by job_engine's mutex.
//
// Every live key of every principal stays here (a submit must not wait for the disk to
// learn that its key is new), so an entry is kept small, 40 bytes stored in place in an
// open-addressing table (Boost.Unordered's flat map, filled 44-88 %): the key is the first
// 128 bits of SHA-256(principal, key), the request's fingerprint its first 128 bits, two
// flags and the binding's seq (its row in the store).
// Which job a key is bound to is not kept: a retry (rare) reads it from the store by that
// seq. Collisions of 128-bit SHA-256 prefixes are not a practical concern
// (content-addressed stores rely on less).
#pragma once

#include "store/job_store.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

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

    // Flat tables, not std::unordered_map: an entry lives in the table's one array, so a
    // lookup is one cache miss instead of two or three, and there is no node per key to
    // allocate (nodes of long-lived keys, scattered among short-lived allocations, pinned
    // a drained backlog's memory; they needed a pool of their own). Measured in session 7:
    // with the job table also flat, io CPU per accept -10-16 %, recovery of 1M jobs
    // 4.2 -> 3.1 s, same RSS with 1M finished jobs.
    // In 64 tables (by other bits of the digest than the tables' hash): a table that
    // grows moves all its entries at once, under the engine's lock. One table of 500k
    // keys stalled every request for ~50 ms (p99.9 of an accept run 13 -> 60 ms);
    // 64 tables each move 1/64 of that, at different times.
    using table = boost::unordered_flat_map<digest, slot, digest_hash>;
    static constexpr size_t table_count = 64;
    std::vector<table> tables_;
    table& table_of(const digest& d) { return tables_[d[1] % table_count]; }
    const table& table_of(const digest& d) const { return tables_[d[1] % table_count]; }
};

}  // namespace ticketd
