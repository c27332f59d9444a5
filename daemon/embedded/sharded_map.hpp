// A hash map kept in 64 open-addressing tables (Boost.Unordered's flat map), chosen by
// other bits of the key than the tables' hash. For the engine's big in-memory indexes:
// the job table and the idempotency keys.
//
// Why flat: an entry lives in its table's one array, so a lookup is one cache miss
// instead of two or three, and there is no node per entry to allocate (nodes of
// long-lived entries, scattered among short-lived allocations, pin a drained backlog's
// memory). Against node-based maps, accepts cost less io CPU and recovery is faster, at
// the same RSS.
// Why 64 tables: a table that grows moves all its entries at once, and the engine does
// that under its lock, so every request waits for the whole move, which grows with the
// table. 64 tables each move 1/64 of that, with requests served between the moves.
// The figures: docs/performance.md, "Measurements behind code choices".
//
// A pointer find() returns is valid until the next insert into the map (an insert may
// move the entries of the table it lands in). Not thread-safe: its owner locks.
#pragma once

#include <array>
#include <cstddef>
#include <utility>

#include <boost/unordered/unordered_flat_map.hpp>

namespace ticketd {

// Hash: the tables' hash (declare is_avalanching when its bits are uniform already).
// ShardOf: size_t(const Key&), from bits the hash does not depend on.
template <class Key, class Value, class Hash, class ShardOf>
class sharded_map {
   public:
    static constexpr size_t table_count = 64;

    Value* find(const Key& k) {
        auto& t = table_of(k);
        const auto it = t.find(k);
        return it == t.end() ? nullptr : &it->second;
    }
    const Value* find(const Key& k) const {
        const auto& t = table_of(k);
        const auto it = t.find(k);
        return it == t.end() ? nullptr : &it->second;
    }
    // The value at `k`, value-initialised if it was not there.
    Value& operator[](const Key& k) { return table_of(k)[k]; }
    // Adds `v` at `k` unless `k` is there already; whether it did.
    bool emplace(const Key& k, Value v) { return table_of(k).emplace(k, std::move(v)).second; }
    bool erase(const Key& k) { return table_of(k).erase(k) > 0; }

    size_t size() const {
        size_t n = 0;
        for (const auto& t : tables_) n += t.size();
        return n;
    }
    // Room for `n` entries in all, spread evenly (keys are uniform over the tables).
    void reserve(size_t n) {
        for (auto& t : tables_) t.reserve(n / table_count + 1);
    }
    // f(const Key&, const Value&) for every entry, in no particular order.
    template <class F>
    void for_each(F&& f) const {
        for (const auto& t : tables_) {
            for (const auto& [k, v] : t) f(k, v);
        }
    }

   private:
    using table = boost::unordered_flat_map<Key, Value, Hash>;
    std::array<table, table_count> tables_;
    table& table_of(const Key& k) { return tables_[ShardOf{}(k) % table_count]; }
    const table& table_of(const Key& k) const { return tables_[ShardOf{}(k) % table_count]; }
};

}  // namespace ticketd
