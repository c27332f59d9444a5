// POST /v1/jobs's body checked into a submit_request (api/submit_parser), and the
// fingerprint of a request with an Idempotency-Key.
#include "api/submit_parser.hpp"

#include <gtest/gtest.h>

using namespace ticketd;

namespace {
std::vector<std::string> pointers(const submit_body& b) {
    std::vector<std::string> out;
    for (const auto& e : b.errors) out.push_back(e.pointer);
    return out;
}
}  // namespace

TEST(submit_parser, a_valid_body_becomes_plain_data) {
    const auto b = parse_submit_body(R"({"type":"t","input":{"z":1,"a":"é"},"priority":-1000,"timeoutSeconds":31536000,)"
                                     R"("labels":{},"files":{}})",
                                     64);
    ASSERT_TRUE(b.errors.empty()) << b.detail;
    EXPECT_EQ(b.request.type, "t");
    EXPECT_EQ(b.request.input, R"({"a":"é","z":1})");
    EXPECT_EQ(b.request.priority, -1000);
    EXPECT_EQ(b.request.timeout_ms, 31'536'000'000);
    EXPECT_EQ(b.request.labels, "{}");
    EXPECT_TRUE(b.request.files.empty());
}

TEST(submit_parser, numbers_out_of_range_are_refused_not_wrapped) {
    EXPECT_EQ(pointers(parse_submit_body(R"({"type":"t","priority":18446744073709551615})", 64)),
              std::vector<std::string>{"/priority"});
    EXPECT_EQ(pointers(parse_submit_body(R"({"type":"t","priority":1001})", 64)), std::vector<std::string>{"/priority"});
    EXPECT_EQ(pointers(parse_submit_body(R"({"type":"t","priority":1.5})", 64)), std::vector<std::string>{"/priority"});
    EXPECT_EQ(pointers(parse_submit_body(R"({"type":"t","timeoutSeconds":0})", 64)),
              std::vector<std::string>{"/timeoutSeconds"});
    EXPECT_EQ(pointers(parse_submit_body(R"({"type":"t","timeoutSeconds":-5})", 64)),
              std::vector<std::string>{"/timeoutSeconds"});
}

TEST(submit_parser, files_and_labels_are_checked_one_by_one) {
    const auto b = parse_submit_body(
        R"({"type":"t","files":{"../x":"0123456789abcdef0123456789abcdef","ok":"nope"},"labels":{"k":1,"":"v"}})", 64);
    EXPECT_EQ(pointers(b), (std::vector<std::string>{"/files/../x", "/files/ok", "/labels/", "/labels/k"}));
    EXPECT_EQ(b.detail, "the request body is not valid");
}

TEST(submit_parser, a_body_that_is_not_an_object_says_why_and_where) {
    EXPECT_EQ(parse_submit_body("", 64).detail.rfind("the body is empty", 0), 0u);
    EXPECT_EQ(parse_submit_body("[1]", 64).detail, "the body must be a JSON object");
    EXPECT_EQ(pointers(parse_submit_body(R"({"type":"t"} x)", 64)).size(), 1u);
    EXPECT_FALSE(parse_submit_body(R"({"type":"t","input":{"a":[[[[1]]]]}})", 3).errors.empty()) << "too deep";
    EXPECT_EQ(pointers(parse_submit_body(R"({"input":{}})", 64)), std::vector<std::string>{"/type"});
}

TEST(submit_parser, the_fingerprint_ignores_wait_order_and_whitespace) {
    const auto a = parse_submit_body(R"({"type":"t","input":{"a":1,"b":2}})", 64);
    const auto b = parse_submit_body(R"( { "input" : { "b":2, "a":1 }, "type":"t" } )", 64);
    const auto c = parse_submit_body(R"({"type":"t","input":{"a":1,"b":3}})", 64);
    EXPECT_EQ(submit_fingerprint(a, {{"x", "1"}, {"wait", "5"}}), submit_fingerprint(b, {{"x", "1"}}));
    EXPECT_NE(submit_fingerprint(a, {}), submit_fingerprint(c, {}));
    EXPECT_NE(submit_fingerprint(a, {{"x", "1"}}), submit_fingerprint(a, {{"x", "2"}}));
}
