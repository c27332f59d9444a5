// The import plugin's CSV reader against RFC 4180's corners and malformed input.
#include "import/csv_reader.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

using namespace plugins::import;

namespace {
struct temp_file {
    // One file per test: ctest runs tests in parallel processes.
    std::string path = testing::TempDir() + "/csv_reader_" +
                       testing::UnitTest::GetInstance()->current_test_info()->name() + ".csv";
    explicit temp_file(const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }
    ~temp_file() { std::remove(path.c_str()); }
};

std::vector<record> read_all(const std::string& bytes, char delimiter = ',') {
    temp_file f(bytes);
    byte_source in(f.path);
    csv_reader csv(in, delimiter);
    std::vector<record> out;
    record r;
    while (csv.next(r)) out.push_back(r);
    return out;
}
}  // namespace

TEST(csv_reader, quoted_fields_keep_delimiters_quotes_and_newlines) {
    const auto rows = read_all("\xEF\xBB\xBF" "a,b\r\n\"x,1\",\"say \"\"hi\"\"\"\r\n\"multi\nline\",\"\"\n");
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].fields, (std::vector<std::string>{"a", "b"}));  // no BOM in the first name
    EXPECT_EQ(rows[1].fields, (std::vector<std::string>{"x,1", "say \"hi\""}));
    EXPECT_EQ(rows[2].fields, (std::vector<std::string>{"multi\nline", ""}));
    EXPECT_EQ(rows[2].line, 3u);
}

TEST(csv_reader, line_numbers_count_physical_lines_and_skip_blank_ones) {
    const auto rows = read_all("h\n\"a\nb\"\n\nc\r\n\r\nd");  // the last record has no newline
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_EQ(rows[1].line, 2u);
    EXPECT_EQ(rows[2].line, 5u);
    EXPECT_EQ(rows[2].fields, std::vector<std::string>{"c"});
    EXPECT_EQ(rows[3].line, 7u);
    EXPECT_EQ(rows[3].fields, std::vector<std::string>{"d"});
}

TEST(csv_reader, empty_fields_and_other_delimiters) {
    const auto rows = read_all("a;;c;\n", ';');
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].fields, (std::vector<std::string>{"a", "", "c", ""}));
}

TEST(csv_reader, malformed_records_are_reported_and_reading_goes_on) {
    const auto rows = read_all("a\"b,c\nok\n\"x\"y\nfine\n\"never closed\nmore");
    ASSERT_EQ(rows.size(), 5u);
    EXPECT_NE(rows[0].error.find("quote inside an unquoted field"), std::string::npos);
    EXPECT_EQ(rows[1].fields, std::vector<std::string>{"ok"});
    EXPECT_NE(rows[2].error.find("after a closing quote"), std::string::npos);
    EXPECT_EQ(rows[3].fields, std::vector<std::string>{"fine"});
    EXPECT_EQ(rows[4].line, 5u);
    EXPECT_NE(rows[4].error.find("opened on line 5 is never closed"), std::string::npos);
}

TEST(csv_reader, a_record_longer_than_the_limit_is_an_error_not_unbounded_memory) {
    const auto rows = read_all(std::string(csv_reader::max_record_bytes + 10, 'x') + "\nnext\n");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_NE(rows[0].error.find("longer than"), std::string::npos);
    EXPECT_EQ(rows[1].fields, std::vector<std::string>{"next"});
}

TEST(csv_reader, delimiters_count_against_the_record_limit) {
    // A line of nothing but commas: as many empty fields, which must not be unbounded.
    const auto rows = read_all(std::string(csv_reader::max_record_bytes + 10, ',') + "\nnext\n");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_NE(rows[0].error.find("longer than"), std::string::npos);
    EXPECT_LE(rows[0].fields.size(), csv_reader::max_record_bytes + 1);
    EXPECT_EQ(rows[1].fields, std::vector<std::string>{"next"});
    // Just under the limit is a record.
    const auto fits = read_all(std::string(1000, ',') + "\n");
    ASSERT_EQ(fits.size(), 1u);
    EXPECT_TRUE(fits[0].error.empty());
    EXPECT_EQ(fits[0].fields.size(), 1001u);
}

TEST(line_reader, strips_line_endings_and_a_byte_order_mark) {
    temp_file f("\xEF\xBB\xBF{\"a\":1}\r\n\n  \n{\"b\":2}");
    byte_source in(f.path);
    line_reader lines(in);
    record r;
    ASSERT_TRUE(lines.next(r));
    EXPECT_EQ(r.fields[0], "{\"a\":1}");
    ASSERT_TRUE(lines.next(r));
    EXPECT_EQ(r.fields[0], "{\"b\":2}");
    EXPECT_EQ(r.line, 4u);
    EXPECT_FALSE(lines.next(r));
}
