// Idempotency-Key, Prefer: wait, If-None-Match, Range/If-Range and media-type parsing.
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

namespace {
const std::string etag = "\"r-abc-1\"";
range_answer range_of(std::vector<std::pair<std::string, std::string>> headers, uint64_t size = 1000,
                      std::string method = "GET") {
    auto r = with(std::move(headers));
    r.method = std::move(method);
    return requested_range(r, size, etag);
}
// "first+length" of a part, "whole" or "416".
std::string shown(const range_answer& a) {
    if (a.kind == range_answer::whole) return "whole";
    if (a.kind == range_answer::unsatisfiable) return "416";
    return std::to_string(a.first) + "+" + std::to_string(a.length);
}
}  // namespace

TEST(range, one_range_in_each_form) {
    EXPECT_EQ(shown(range_of({})), "whole");
    EXPECT_EQ(shown(range_of({{"range", "bytes=0-0"}})), "0+1");
    EXPECT_EQ(shown(range_of({{"range", "bytes=0-499"}})), "0+500");
    EXPECT_EQ(shown(range_of({{"range", "bytes=500-"}})), "500+500");
    EXPECT_EQ(shown(range_of({{"range", "bytes=-100"}})), "900+100");
    EXPECT_EQ(shown(range_of({{"range", "bytes=-5000"}})), "0+1000");   // more than there is: all
    EXPECT_EQ(shown(range_of({{"range", "bytes=990-5000"}})), "990+10");  // last clipped
    EXPECT_EQ(shown(range_of({{"range", "bytes=999-999"}})), "999+1");
    EXPECT_EQ(shown(range_of({{"range", " Bytes = 10-19 "}})), "10+10");  // unit case-insensitive, OWS
    EXPECT_EQ(shown(range_of({{"range", "bytes=10-19,"}})), "10+10");     // empty list elements
}

TEST(range, past_the_end_or_an_empty_suffix_is_416) {
    EXPECT_EQ(shown(range_of({{"range", "bytes=1000-"}})), "416");
    EXPECT_EQ(shown(range_of({{"range", "bytes=1000-2000"}})), "416");
    EXPECT_EQ(shown(range_of({{"range", "bytes=-0"}})), "416");
}

TEST(range, malformed_multiple_or_not_applicable_is_answered_whole) {
    for (const char* bad : {"bytes=abc", "bytes=5", "bytes=10-5", "bytes=-", "items=0-10", "bytes 0-10",
                            "bytes=0x1-2", "bytes=1 -2", "bytes=99999999999999999999-", "bytes=+1-2"}) {
        EXPECT_EQ(shown(range_of({{"range", bad}})), "whole") << bad;
    }
    EXPECT_EQ(shown(range_of({{"range", "bytes=0-1,5-6"}})), "whole");  // no multipart answers
    EXPECT_EQ(shown(range_of({{"range", "bytes=0-1"}, {"range", "bytes=2-3"}})), "whole");
    EXPECT_EQ(shown(range_of({{"range", "bytes=0-1"}}, 1000, "HEAD")), "whole");  // GET only
    EXPECT_EQ(shown(range_of({{"range", "bytes=0-1"}}, 0)), "whole");   // nothing to take a part of
    EXPECT_EQ(shown(range_of({{"range", "bytes=-1"}}, 0)), "whole");
}

TEST(range, if_range_must_name_the_current_etag_strongly) {
    EXPECT_EQ(shown(range_of({{"range", "bytes=0-9"}, {"if-range", etag}})), "0+10");
    EXPECT_EQ(shown(range_of({{"range", "bytes=0-9"}, {"if-range", "\"r-abc-0\""}})), "whole");
    EXPECT_EQ(shown(range_of({{"range", "bytes=0-9"}, {"if-range", "W/" + etag}})), "whole");
    EXPECT_EQ(shown(range_of({{"range", "bytes=0-9"}, {"if-range", "Fri, 27 Nov 2026 10:00:00 GMT"}})), "whole");
    EXPECT_EQ(shown(range_of({{"range", "bytes=2000-"}, {"if-range", "\"other\""}})), "whole");  // not 416
}
