#include "system/random_id.hpp"
#include "system/time.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace ticketd;

TEST(time, rfc3339_round_trip_and_offsets) {
    EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:01.5Z"), 1500);
    EXPECT_EQ(parse_rfc3339("1970-01-01T01:00:00+01:00"), 0);
    const unix_ms t = 1'795'727'042'169;
    EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t);
    EXPECT_EQ(parse_rfc3339("yesterday"), std::nullopt);
    EXPECT_EQ(parse_rfc3339("2026-13-01T00:00:00Z"), std::nullopt);
    EXPECT_EQ(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(random_id, is_128_bit_hex_and_unique) {
    std::set<std::string> seen;
    for (int i = 0; i < 10000; ++i) {
        const auto id = new_random_id();
        ASSERT_TRUE(is_random_id(id)) << id;
        ASSERT_TRUE(seen.insert(id).second);
    }
    EXPECT_FALSE(is_random_id("ABCDEF0123456789abcdef0123456789"));
    EXPECT_FALSE(is_random_id("abc"));
}
