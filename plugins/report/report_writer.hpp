// The report plugin's output formats, written row by row to a stream so that a report of
// any size needs constant memory: CSV (RFC 4180, raw values), JSON (one document with
// the rows as objects, plus totals) and a self-contained HTML page (title, parameters,
// generation time, the formatted table, totals of numeric columns).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace plugins::report {

// How a column is shown in HTML (CSV and JSON keep raw values).
struct column_format {
    std::string label;   // header text ("" = the column name)
    std::string format;  // "", text, integer, number, percent, date
    int decimals = -1;   // -1: the format's default
    std::string prefix;  // e.g. "$"
    std::string suffix;  // e.g. " EUR"
};

struct output_column {
    std::string name;
    column_format format;
};

using cell = std::variant<std::monostate, int64_t, double, std::string>;

struct report_info {
    std::string title;
    std::string description;
    std::string name;  // the report's name ("query" for ad-hoc SQL)
    nlohmann::json parameters = nlohmann::json::object();
    std::string generated_at;  // RFC 3339 UTC
};

class writer {
   public:
    virtual ~writer() = default;
    virtual void begin(const std::vector<output_column>& columns) = 0;
    virtual void row(const std::vector<cell>& values) = 0;
    virtual void end() = 0;
};

// format: csv, json or html.
std::unique_ptr<writer> make_writer(const std::string& format, std::ostream& out, report_info info);

// Exposed for tests.
std::string format_cell(const cell& value, const column_format& format);
std::string csv_field(std::string_view text);
std::string html_escape(std::string_view text);

}  // namespace plugins::report
