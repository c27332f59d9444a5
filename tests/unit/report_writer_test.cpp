// The report plugin's value formatting and escaping.
#include "report/report_writer.hpp"

#include <gtest/gtest.h>

#include <sstream>

using namespace plugins::report;

TEST(report_format, numbers_are_grouped_rounded_and_decorated) {
    EXPECT_EQ(format_cell(1234567.891, {"", "number", 2, "$", ""}), "$1,234,567.89");
    EXPECT_EQ(format_cell(int64_t{-1234}, {"", "integer", -1, "", ""}), "-1,234");
    EXPECT_EQ(format_cell(-0.004, {"", "number", 2, "", ""}), "0.00");  // no "-0.00"
    EXPECT_EQ(format_cell(0.1234, {"", "percent", -1, "", ""}), "12.3%");
    EXPECT_EQ(format_cell(999.5, {"", "integer", -1, "", " EUR"}), "1,000 EUR");
    EXPECT_EQ(format_cell(0.1, {}), "0.1");  // unformatted: the shortest exact text
    EXPECT_EQ(format_cell(std::string("x"), {"", "number", 2, "", ""}), "x");
    EXPECT_EQ(format_cell(std::monostate{}, {"", "number", 2, "$", ""}), "");
}

TEST(report_format, csv_fields_and_html_are_escaped) {
    EXPECT_EQ(csv_field("plain"), "plain");
    EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
    EXPECT_EQ(csv_field("say \"hi\"\n"), "\"say \"\"hi\"\"\n\"");
    EXPECT_EQ(html_escape("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
}

TEST(report_format, a_json_report_is_one_valid_document_even_when_empty) {
    std::ostringstream out;
    auto w = make_writer("json", out, {"T", "", "r", nlohmann::json::object(), "2026-01-01T00:00:00Z"});
    w->begin({{"a", {}}, {"b", {}}});
    w->end();
    const auto doc = nlohmann::json::parse(out.str());
    EXPECT_EQ(doc["rows"], nlohmann::json::array());
    EXPECT_EQ(doc["rowCount"], 0);
    EXPECT_EQ(doc["totals"], nlohmann::json::object());
}
