// A plugin's declaration of its files: parsed strictly when it is loaded, then each submit's
// files checked by name, media type and size.
#include "plugins/file_declarations.hpp"
#include "system/media_type.hpp"

#include <gtest/gtest.h>

using namespace ticketd;

namespace {
std::string refusal(std::string_view text) {
    try {
        parse_file_declarations(text);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "(accepted)";
}
}  // namespace

TEST(declared_files, parse_keeps_every_member_in_name_order) {
    const auto files = parse_file_declarations(
        R"({"video": {"required": true, "mediaTypes": ["video/*", "application/octet-stream"], "maxBytes": 10,
                      "description": "the clip"}, "subtitles": {}})");
    ASSERT_EQ(files.size(), 2u);
    EXPECT_EQ(files[0].name, "subtitles");  // nlohmann's objects are sorted by name
    EXPECT_FALSE(files[0].required);
    EXPECT_TRUE(files[0].media_types.empty());
    EXPECT_EQ(files[1].name, "video");
    EXPECT_TRUE(files[1].required);
    EXPECT_EQ(files[1].media_types, (std::vector<std::string>{"video/*", "application/octet-stream"}));
    EXPECT_EQ(files[1].max_bytes, 10u);
    EXPECT_EQ(files[1].description, "the clip");
    EXPECT_TRUE(parse_file_declarations("{}").empty());  // jobs read no files
}

TEST(declared_files, parse_refuses_what_it_does_not_know_with_a_pointer) {
    EXPECT_EQ(refusal("not json"), ": not JSON");
    EXPECT_EQ(refusal("{\"a\": {\"description\": \"\xff\xfe\"}}"), ": not JSON");  // invalid UTF-8
    EXPECT_EQ(refusal("{\"\xc3\": {}}"), ": not JSON");
    EXPECT_EQ(refusal(""), ": not JSON");
    EXPECT_EQ(refusal(R"({"a": {"maxBytes": 1e400}})"), ": not JSON");  // out of range
    EXPECT_EQ(refusal(R"({"a": {"maxBytes": 18446744073709551616}})"), "/a/maxBytes: must be a positive integer");
    EXPECT_EQ(refusal(R"({"a": {"description": ")" + std::string(1025, 'x') + "\"}}"),
              "/a/description: must be a string of at most 1024 bytes");
    EXPECT_EQ(refusal("[]"), ": must be an object of file names");
    EXPECT_EQ(refusal(R"({"a b": {}})"), "/a b: file names are 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-'");
    EXPECT_EQ(refusal(R"({"a": 1})"), "/a: must be an object");
    EXPECT_EQ(refusal(R"({"a": {"required": 1}})"), "/a/required: must be true or false");
    EXPECT_EQ(refusal(R"({"a": {"mediaTypes": []}})"), "/a/mediaTypes: must be an array of 1-32 media types");
    for (const char* bad : {"text", "text/csv; charset=utf-8", "*/csv", "te xt/csv", "/"}) {
        EXPECT_EQ(refusal(std::string(R"({"a": {"mediaTypes": [")") + bad + "\"]}}"),
                  "/a/mediaTypes: each must be a media type without parameters (type/sub, type/*, */*)")
            << bad;
    }
    EXPECT_EQ(refusal(R"({"a": {"maxBytes": 0}})"), "/a/maxBytes: must be a positive integer");
    EXPECT_EQ(refusal(R"({"a": {"maxBytes": -5}})"), "/a/maxBytes: must be a positive integer");
    EXPECT_EQ(refusal(R"({"a": {"size": 5}})"), "/a/size: unknown member; expected required, mediaTypes, maxBytes, description");
    EXPECT_EQ(refusal(R"({"a": {"description": [[[1]]]}})"), "the declaration nests deeper than 3 levels");
    std::string many = "{";
    for (int i = 0; i < 33; ++i) many += (i ? ",\"f" : "\"f") + std::to_string(i) + "\": {}";
    EXPECT_EQ(refusal(many + "}"), ": at most 32 files");
}

TEST(declared_files, media_types_match_by_essence_wildcard_and_case) {
    EXPECT_TRUE(media_type_matches("text/csv; charset=utf-8", "text/csv"));
    EXPECT_TRUE(media_type_matches("Text/CSV", "text/csv"));
    EXPECT_TRUE(media_type_matches("audio/wav", "audio/*"));
    EXPECT_TRUE(media_type_matches("audio/wav", "*/*"));
    EXPECT_FALSE(media_type_matches("audiox/wav", "audio/*"));
    EXPECT_FALSE(media_type_matches("text/csvx", "text/csv"));
    EXPECT_FALSE(media_type_matches("", "*/*"));
}

TEST(declared_files, a_submit_is_checked_by_name_then_each_upload_by_type_and_size) {
    const auto files = parse_file_declarations(
        R"({"data": {"required": true, "mediaTypes": ["text/csv"], "maxBytes": 4}, "notes": {}})");
    EXPECT_TRUE(check_file_names(files, {{"data", "u1"}}, "t").empty());
    const auto missing = check_file_names(files, {{"notes", "u1"}, {"other", "u2"}}, "t");
    ASSERT_EQ(missing.size(), 2u);
    EXPECT_EQ(missing[0].pointer, "/files/data");
    EXPECT_EQ(missing[1].pointer, "/files/other");
    EXPECT_EQ(missing[1].detail, "job type 't' reads no file 'other'; it reads 'data' and 'notes'");
    EXPECT_EQ(check_file_names({}, {{"x", "u"}}, "t")[0].detail, "job type 't' reads no file 'x'; it reads none");

    upload_record u{"u1", "p", "text/csv", 4, "", 0, 0};
    EXPECT_FALSE(check_upload(files, "data", u));
    EXPECT_FALSE(check_upload(files, "notes", upload_record{"u2", "p", "image/png", 1 << 20, "", 0, 0}));
    u.size = 5;
    EXPECT_EQ(check_upload(files, "data", u).value_or(""), "upload 'u1' is 5 bytes; the file 'data' may be at most 4");
    u.content_type = "text/plain";
    EXPECT_EQ(check_upload(files, "data", u).value_or(""), "upload 'u1' is text/plain; the file 'data' must be text/csv");
}
