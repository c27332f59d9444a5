// The in-memory Idempotency-Key index: per principal, committing vs bound, same request or
// not, deleted jobs, release and erase.
#include "embedded/idempotency_index.hpp"

#include <gtest/gtest.h>

using namespace ticketd;

namespace {
const std::string fp_a(64, 'a');
const std::string fp_b(64, 'b');
idempotency_index::digest key(const std::string& principal, const std::string& k) {
    return idempotency_index::key_of(principal, k);
}
}  // namespace

TEST(idempotency_index, a_reserved_key_is_committing_until_bound_or_released) {
    idempotency_index keys;
    EXPECT_FALSE(keys.find(key("alice", "k"), fp_a));
    keys.reserve(key("alice", "k"), fp_a);
    auto e = keys.find(key("alice", "k"), fp_a);
    ASSERT_TRUE(e);
    EXPECT_TRUE(e->committing);
    keys.release("alice", "k");
    EXPECT_FALSE(keys.find(key("alice", "k"), fp_a));

    keys.reserve(key("alice", "k"), fp_a);
    keys.bind({"alice", "k", std::string(32, 'c'), fp_a, false, 0, 42});
    keys.release("alice", "k");  // only a committing key is released
    e = keys.find(key("alice", "k"), fp_a);
    ASSERT_TRUE(e);
    EXPECT_FALSE(e->committing);
    EXPECT_TRUE(e->same_request);
    EXPECT_FALSE(e->job_deleted);
    EXPECT_EQ(e->seq, 42);  // where the store keeps the binding
    EXPECT_EQ(keys.size(), 1u);
}

TEST(idempotency_index, keys_are_per_principal_and_compare_the_request) {
    idempotency_index keys;
    keys.bind({"alice", "k", std::string(32, 'c'), fp_a, false, 0});
    EXPECT_FALSE(keys.find(key("bob", "k"), fp_a));
    EXPECT_FALSE(keys.find(key("alice", "K"), fp_a));
    // The separator cannot be forged: ("alic", "ek") is another pair than ("alice", "k").
    EXPECT_FALSE(keys.find(key("alic", "ek"), fp_a));
    EXPECT_FALSE(keys.find(key("alice", "k"), fp_b)->same_request);
    // Fingerprints that are not SHA-256 hex (older stores, tests) are compared too.
    keys.bind({"alice", "short", std::string(32, 'd'), "fp", false, 0});
    EXPECT_TRUE(keys.find(key("alice", "short"), "fp")->same_request);
    EXPECT_FALSE(keys.find(key("alice", "short"), "fq")->same_request);
}

TEST(idempotency_index, deleted_and_erased_keys) {
    idempotency_index keys;
    keys.bind({"alice", "k", std::string(32, 'c'), fp_a, false, 0});
    keys.mark_deleted("alice", "k");
    EXPECT_TRUE(keys.find(key("alice", "k"), fp_a)->job_deleted);
    keys.erase("alice", "k");
    EXPECT_FALSE(keys.find(key("alice", "k"), fp_a));
    EXPECT_EQ(keys.size(), 0u);
}
