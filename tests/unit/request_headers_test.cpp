// Idempotency-Key, Prefer: wait, If-None-Match and media-type parsing.
#include "api/request_headers.hpp"

#include <gtest/gtest.h>

using namespace ticketd;

namespace {
http_request with(std::vector<std::pair<std::string, std::string>> headers) {
    http_request r;
    r.headers = std::move(headers);
    return r;
}
}  // namespace

TEST(idempotency_key, quoted_and_bare_forms_are_the_same_key) {
    std::string a, b;
    EXPECT_EQ(parse_idempotency_key(with({{"idempotency-key", "\"abc\""}}), a), key_parse::ok);
    EXPECT_EQ(parse_idempotency_key(with({{"idempotency-key", "abc"}}), b), key_parse::ok);
    EXPECT_EQ(a, "abc");
    EXPECT_EQ(a, b);
}

TEST(idempotency_key, rejects_empty_long_control_non_ascii_and_repeated) {
    std::string k;
    EXPECT_EQ(parse_idempotency_key(with({}), k), key_parse::absent);
    EXPECT_EQ(parse_idempotency_key(with({{"idempotency-key", "\"\""}}), k), key_parse::invalid);
    EXPECT_EQ(parse_idempotency_key(with({{"idempotency-key", std::string(255, 'k')}}), k), key_parse::ok);
    EXPECT_EQ(parse_idempotency_key(with({{"idempotency-key", std::string(256, 'k')}}), k), key_parse::invalid);
    EXPECT_EQ(parse_idempotency_key(with({{"idempotency-key", "\"a\x01b\""}}), k), key_parse::invalid);
    EXPECT_EQ(parse_idempotency_key(with({{"idempotency-key", "caf\xc3\xa9"}}), k), key_parse::invalid);
    EXPECT_EQ(parse_idempotency_key(with({{"idempotency-key", "a"}, {"idempotency-key", "a"}}), k),
              key_parse::invalid);
    EXPECT_EQ(parse_idempotency_key(with({{"idempotency-key", "\"a\\\"b\""}}), k), key_parse::ok);
    EXPECT_EQ(k, "a\"b");
}

TEST(prefer, wait_is_read_from_any_preference_position) {
    EXPECT_EQ(prefer_wait(with({{"prefer", "wait=5"}})), 5);
    EXPECT_EQ(prefer_wait(with({{"prefer", "respond-async, wait=10"}})), 10);
    EXPECT_EQ(prefer_wait(with({{"prefer", "respond-async"}})), std::nullopt);
    EXPECT_EQ(prefer_wait(with({{"prefer", "wait=abc"}})), std::nullopt);
    EXPECT_EQ(prefer_wait(with({})), std::nullopt);
}

TEST(if_none_match, weak_comparison_and_lists) {
    EXPECT_TRUE(if_none_match(with({{"if-none-match", "\"1-2\""}}), "\"1-2\""));
    EXPECT_TRUE(if_none_match(with({{"if-none-match", "W/\"1-2\""}}), "\"1-2\""));
    EXPECT_TRUE(if_none_match(with({{"if-none-match", "\"x\", \"1-2\""}}), "\"1-2\""));
    EXPECT_TRUE(if_none_match(with({{"if-none-match", "*"}}), "\"1-2\""));
    EXPECT_FALSE(if_none_match(with({{"if-none-match", "\"1-3\""}}), "\"1-2\""));
    EXPECT_FALSE(if_none_match(with({}), "\"1-2\""));
}

TEST(media_type, json_and_structured_json) {
    EXPECT_TRUE(is_json_media_type("application/json"));
    EXPECT_TRUE(is_json_media_type("Application/JSON; charset=utf-8"));
    EXPECT_TRUE(is_json_media_type("application/vnd.ticketd+json"));
    EXPECT_FALSE(is_json_media_type("text/plain"));
    EXPECT_FALSE(is_json_media_type("application/jsonx"));
}
