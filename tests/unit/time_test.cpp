#include "system/random_id.hpp"
#include "system/time.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <set>
#include <vector>

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

// The hand-written formatter against the C library's calendar, across leap years, month
// ends, before the epoch and up to 9999.
TEST(time, rfc3339_matches_gmtime) {
    std::vector<unix_ms> samples = {0, -1, 999, 86'399'999, 86'400'000, 951'782'400'000 /* 2000-02-29 */,
                                    -62'167'219'200'000 /* 0000-01-01 */, 253'402'300'799'999 /* 9999-12-31 */};
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; ++i) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        samples.push_back(static_cast<unix_ms>(x % 253'402'300'800'000ull));
    }
    for (const unix_ms t : samples) {
        const std::time_t secs = static_cast<std::time_t>(t >= 0 ? t / 1000 : (t - 999) / 1000);
        std::tm tm{};
        ASSERT_NE(gmtime_r(&secs, &tm), nullptr);
        char expected[64];
        std::snprintf(expected, sizeof expected, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                      static_cast<int>(((t % 1000) + 1000) % 1000));
        ASSERT_EQ(format_rfc3339(t), expected) << t;
        ASSERT_EQ(parse_rfc3339(expected), t) << expected;
    }
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
