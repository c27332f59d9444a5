// The engine's sharded hash map (jobs/sharded_map.hpp): every entry is found, replaced,
// erased and visited exactly once, across its tables and through their growth.
#include "embedded/sharded_map.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>

using namespace ticketd;

namespace {
struct low_bits_hash {  // a poor hash on purpose: many keys share a value
    size_t operator()(uint64_t k) const noexcept { return static_cast<size_t>(k % 1000); }
};
struct high_bits_shard {
    size_t operator()(uint64_t k) const noexcept { return static_cast<size_t>(k >> 20); }
};
using map = sharded_map<uint64_t, int, low_bits_hash, high_bits_shard>;
}  // namespace

TEST(sharded_map, entries_are_found_replaced_erased_and_visited_once) {
    map m;
    std::map<uint64_t, int> expected;
    // Keys in every table (shard = k >> 20) with colliding hashes, enough for each table
    // to grow several times.
    for (uint64_t shard = 0; shard < map::table_count; ++shard) {
        for (uint64_t i = 0; i < 300; ++i) {
            const uint64_t k = (shard << 20) | (i * 1000 + shard);
            m[k] = static_cast<int>(i);
            expected[k] = static_cast<int>(i);
        }
    }
    EXPECT_EQ(m.size(), expected.size());
    EXPECT_FALSE(m.emplace(0, 99));  // there already: kept
    EXPECT_EQ(*m.find(0), 0);
    EXPECT_EQ(m.find(5), nullptr);  // hash and shard of a key that is there, not the key

    for (auto& [k, v] : expected) {
        int* found = m.find(k);
        ASSERT_NE(found, nullptr) << k;
        EXPECT_EQ(*found, v);
        if (k % 2 == 0) {
            *found = -v;  // in place
            v = -v;
        }
    }
    size_t erased = 0;
    for (auto it = expected.begin(); it != expected.end();) {
        if (it->first % 3 == 0) {
            EXPECT_TRUE(m.erase(it->first));
            EXPECT_FALSE(m.erase(it->first));  // already gone
            it = expected.erase(it);
            ++erased;
        } else {
            ++it;
        }
    }
    EXPECT_GT(erased, 0u);
    EXPECT_EQ(m.size(), expected.size());

    std::map<uint64_t, int> visited;
    m.for_each([&](const uint64_t& k, const int& v) { EXPECT_TRUE(visited.emplace(k, v).second) << k; });
    EXPECT_EQ(visited, expected);
}

TEST(sharded_map, reserve_keeps_what_is_there) {
    map m;
    m[1] = 10;
    m[uint64_t{7} << 20] = 70;
    m.reserve(100000);
    ASSERT_NE(m.find(1), nullptr);
    EXPECT_EQ(*m.find(1), 10);
    ASSERT_NE(m.find(uint64_t{7} << 20), nullptr);
    EXPECT_EQ(*m.find(uint64_t{7} << 20), 70);
    EXPECT_EQ(m.size(), 2u);
}
