// Job ids: 128 bits that look random, from which the store reads the job's seq back.
#include "store/job_ids.hpp"
#include "system/random_id.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>

using namespace ticketd;

TEST(job_ids, an_id_gives_back_its_seq_and_each_id_is_new) {
    const job_ids ids(job_ids::new_key());
    for (int64_t seq : {int64_t{1}, int64_t{2}, int64_t{255}, int64_t{256}, int64_t{1} << 40, INT64_MAX}) {
        const auto a = ids.make(seq);
        const auto b = ids.make(seq);
        EXPECT_TRUE(is_random_id(a)) << a;
        EXPECT_NE(a, b) << "the random half differs";
        EXPECT_EQ(ids.seq_of(a), seq) << a;
        EXPECT_EQ(ids.seq_of(b), seq) << b;
    }
    EXPECT_EQ(ids.seq_of("abc"), std::nullopt);
    EXPECT_EQ(ids.seq_of("ABCDEF0123456789abcdef0123456789"), std::nullopt);
    EXPECT_EQ(ids.seq_of("g0000000000000000000000000000000"), std::nullopt);
}

// Consecutive seqs must not show in the ids: with the seq in plain sight (a counter
// prefix, as in UUIDv7) the ids of one run would share their first bytes.
TEST(job_ids, consecutive_jobs_get_unrelated_ids) {
    const job_ids ids(job_ids::new_key());
    std::set<std::string> prefixes;
    for (int64_t seq = 1; seq <= 2000; ++seq) {
        // 48 bits: two random values share them with odds of ~1e-8 over 2000 ids.
        ASSERT_TRUE(prefixes.insert(ids.make(seq).substr(0, 12)).second) << seq;
    }
    // Another store (another key) gives the same seq another id.
    const job_ids other(job_ids::new_key());
    const auto id = ids.make(7);
    EXPECT_NE(other.seq_of(id), 7);
}
