#include "system/utf8.hpp"

#include <gtest/gtest.h>

using namespace ticketd;

TEST(utf8, accepts_well_formed_text) {
    for (const char* s : {"", "plain ASCII", "\xC3\xA9t\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
                          "\xEF\xBF\xBD", "\xF4\x8F\xBF\xBF" /* U+10FFFF */, "\x7F"}) {
        EXPECT_TRUE(is_valid_utf8(s)) << s;
        EXPECT_EQ(valid_utf8(s), s);
    }
    EXPECT_TRUE(is_valid_utf8(std::string("a\0b", 3)));  // NUL is a character
}

TEST(utf8, refuses_and_replaces_every_kind_of_malformed_sequence) {
    struct bad_case {
        const char* bytes;
        const char* replaced;
    };
    const bad_case cases[] = {
        {"\xFF", "\xEF\xBF\xBD"},                                        // never valid
        {"\x80", "\xEF\xBF\xBD"},                                        // a stray continuation
        {"a\xC3", "a\xEF\xBF\xBD"},                                      // truncated at the end
        {"\xC3\x28", "\xEF\xBF\xBD("},                                   // a bad continuation
        {"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},                        // overlong '/'
        {"\xE0\x80\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},        // overlong, 3 bytes
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},        // a surrogate
        {"\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},  // past U+10FFFF
        {"\xF8\x88\x80\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
    };
    for (const auto& c : cases) {
        EXPECT_FALSE(is_valid_utf8(c.bytes)) << c.bytes;
        EXPECT_EQ(valid_utf8(c.bytes), c.replaced);
        EXPECT_TRUE(is_valid_utf8(valid_utf8(c.bytes)));
    }
}
