// The checks of a request's head (http/request_head): decoding, UTF-8, framing, request ids.
#include "http/request_head.hpp"

#include <gtest/gtest.h>

using namespace ticketd;

namespace {
http_request head(std::string target, std::vector<std::pair<std::string, std::string>> headers = {}) {
    http_request r;
    r.method = "GET";
    r.target = std::move(target);
    r.headers = std::move(headers);
    return r;
}
}  // namespace

TEST(request_head, the_path_and_query_are_decoded) {
    auto r = head("/v1/jobs/a%20b?x=1&y=%C3%A9+z&&flag");
    EXPECT_EQ(check_request_head(r, 11, "rid"), "");
    EXPECT_EQ(r.path, "/v1/jobs/a b");
    EXPECT_EQ(r.query, (std::vector<std::pair<std::string, std::string>>{{"x", "1"}, {"y", "\xC3\xA9 z"}, {"flag", ""}}));
    EXPECT_EQ(r.request_id, "rid");
}

TEST(request_head, malformed_escapes_and_bytes_that_are_not_utf8_are_refused) {
    auto bad_escape = head("/v1/jobs/%G0");
    EXPECT_EQ(check_request_head(bad_escape, 11, "rid"), "malformed percent-encoding in the path");
    auto bad_path = head("/v1/jobs/%FF");
    EXPECT_EQ(check_request_head(bad_path, 11, "rid"), "the path is not valid UTF-8 once percent-decoded");
    auto bad_query = head("/v1/jobs?x=%C3");
    EXPECT_EQ(check_request_head(bad_query, 11, "rid"), "the query is not valid UTF-8 once percent-decoded");
    auto bad_query_escape = head("/v1/jobs?x=%");
    EXPECT_EQ(check_request_head(bad_query_escape, 11, "rid"), "malformed percent-encoding in the query");
}

TEST(request_head, framing_a_proxy_could_read_otherwise_is_refused) {
    for (const auto& headers : std::vector<std::vector<std::pair<std::string, std::string>>>{
             {{"content-length", "5"}, {"content-length", "5"}},
             {{"content-length", "+5"}},
             {{"content-length", "0x5"}},
             {{"transfer-encoding", "gzip, chunked"}},
             {{"transfer-encoding", "chunked"}, {"transfer-encoding", "chunked"}},
         }) {
        auto r = head("/v1/jobs", headers);
        EXPECT_NE(check_request_head(r, 11, "rid"), "") << headers[0].first << ": " << headers[0].second;
    }
    auto http10_chunked = head("/v1/jobs", {{"transfer-encoding", "chunked"}});
    EXPECT_NE(check_request_head(http10_chunked, 10, "rid"), "");
    auto fine = head("/v1/jobs", {{"transfer-encoding", " Chunked "}});
    EXPECT_EQ(check_request_head(fine, 11, "rid"), "");
    auto length = head("/v1/jobs", {{"content-length", " 12 "}});
    EXPECT_EQ(check_request_head(length, 11, "rid"), "");
}

TEST(request_head, a_clients_request_id_is_kept_only_when_safe) {
    auto kept = head("/", {{"x-request-id", "abc-123_x.y"}});
    check_request_head(kept, 11, "ours");
    EXPECT_EQ(kept.request_id, "abc-123_x.y");
    auto replaced = head("/", {{"x-request-id", "a b\r\n"}});
    check_request_head(replaced, 11, "ours");
    EXPECT_EQ(replaced.request_id, "ours");
    auto too_long = head("/", {{"x-request-id", std::string(129, 'a')}});
    check_request_head(too_long, 11, "ours");
    EXPECT_EQ(too_long.request_id, "ours");
}
