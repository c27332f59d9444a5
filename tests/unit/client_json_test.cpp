#include "api/client_json.hpp"

#include <gtest/gtest.h>

using namespace ticketd;

namespace {
std::string arrays(size_t n) { return std::string(n, '[') + std::string(n, ']'); }
}  // namespace

TEST(client_json, parses_what_is_within_the_limit) {
    const auto r = parse_client_json(R"({"a": [1, {"b": [true, null]}], "c": "x"})", 4);
    ASSERT_FALSE(r.value.is_discarded()) << r.detail;
    EXPECT_EQ(r.value["a"][1]["b"][0], true);
    EXPECT_FALSE(parse_client_json(arrays(64), 64).value.is_discarded());
    EXPECT_FALSE(parse_client_json("\"just a string\"", 1).value.is_discarded());
}

TEST(client_json, refuses_one_level_too_deep_and_names_where) {
    auto r = parse_client_json(arrays(65), 64);
    ASSERT_TRUE(r.value.is_discarded());
    std::string pointer;
    for (int i = 0; i < 64; ++i) pointer += "/0";
    EXPECT_EQ(r.pointer, pointer);
    EXPECT_NE(r.detail.find("64 levels"), std::string::npos);

    r = parse_client_json(R"({"x": 1, "list": [0, 1, {"a/b~c": {"deep": {}}}]})", 4);
    ASSERT_TRUE(r.value.is_discarded());
    EXPECT_EQ(r.pointer, "/list/2/a~1b~0c/deep");  // RFC 6901 escapes
}

TEST(client_json, a_million_levels_cost_no_stack) {
    const auto r = parse_client_json(arrays(1'000'000), 64);
    EXPECT_TRUE(r.value.is_discarded());
    EXPECT_EQ(r.pointer.size(), 64u * 2);
    // Unbalanced, too: refused for the depth before the end is ever reached.
    const auto unbalanced = parse_client_json(std::string(1'000'000, '['), 64);
    EXPECT_NE(unbalanced.detail.find("64 levels"), std::string::npos) << unbalanced.detail;
}

TEST(client_json, malformed_text_says_where) {
    for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "{\"a\": 1} trailing", "\"\xFF\"", "1e400", "nul"}) {
        const auto r = parse_client_json(bad, 64);
        EXPECT_TRUE(r.value.is_discarded()) << bad;
        EXPECT_NE(r.detail.find("not valid JSON"), std::string::npos) << bad << ": " << r.detail;
        EXPECT_EQ(r.pointer, "");
    }
}
