#include "report_writer.hpp"

#include <charconv>
#include <cmath>

namespace plugins::report {

namespace {

std::string shortest(double v) {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

std::string raw_text(const cell& v) {
    if (std::holds_alternative<int64_t>(v)) return std::to_string(std::get<int64_t>(v));
    if (std::holds_alternative<double>(v)) return shortest(std::get<double>(v));
    if (std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
    return "";
}

// 1234567.891 with 2 decimals -> "1,234,567.89"
std::string grouped(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, std::fabs(v));
    std::string digits(buf);
    const auto dot = digits.find('.');
    std::string whole = digits.substr(0, dot), frac = dot == std::string::npos ? "" : digits.substr(dot);
    std::string out;
    for (size_t i = 0; i < whole.size(); ++i) {
        if (i > 0 && (whole.size() - i) % 3 == 0) out += ',';
        out += whole[i];
    }
    const bool negative = v < 0 && std::stod(digits) != 0.0;
    return (negative ? "-" : "") + out + frac;
}

bool is_number(const cell& v) { return std::holds_alternative<int64_t>(v) || std::holds_alternative<double>(v); }
double as_double(const cell& v) {
    return std::holds_alternative<int64_t>(v) ? static_cast<double>(std::get<int64_t>(v)) : std::get<double>(v);
}

nlohmann::json to_json(const cell& v) {
    if (std::holds_alternative<int64_t>(v)) return std::get<int64_t>(v);
    if (std::holds_alternative<double>(v)) return std::get<double>(v);
    if (std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
    return nullptr;
}

// Column totals: a column is totalled when every non-null value in it is a number.
class totals {
   public:
    void reset(size_t n) {
        numeric_.assign(n, true);
        seen_.assign(n, false);
        all_int_.assign(n, true);
        int_sum_.assign(n, 0);
        sum_.assign(n, 0.0);
    }
    void add(const std::vector<cell>& row) {
        for (size_t c = 0; c < row.size(); ++c) {
            if (std::holds_alternative<std::monostate>(row[c])) continue;
            if (!is_number(row[c])) {
                numeric_[c] = false;
                continue;
            }
            seen_[c] = true;
            sum_[c] += as_double(row[c]);
            if (std::holds_alternative<int64_t>(row[c])) {
                if (__builtin_add_overflow(int_sum_[c], std::get<int64_t>(row[c]), &int_sum_[c])) all_int_[c] = false;
            } else {
                all_int_[c] = false;
            }
        }
    }
    // The total of column c, or monostate when it has none.
    cell of(size_t c, const column_format& f) const {
        if (!numeric_[c] || !seen_[c] || f.format == "text" || f.format == "date") return std::monostate{};
        if (all_int_[c]) return int_sum_[c];
        return sum_[c];
    }

   private:
    std::vector<bool> numeric_, seen_, all_int_;
    std::vector<int64_t> int_sum_;
    std::vector<double> sum_;
};

class csv_writer final : public writer {
   public:
    explicit csv_writer(std::ostream& out) : out_(out) {}
    void begin(const std::vector<output_column>& columns) override {
        for (size_t c = 0; c < columns.size(); ++c) out_ << (c ? "," : "") << csv_field(columns[c].name);
        out_ << "\r\n";
    }
    void row(const std::vector<cell>& values) override {
        for (size_t c = 0; c < values.size(); ++c) out_ << (c ? "," : "") << csv_field(raw_text(values[c]));
        out_ << "\r\n";
    }
    void end() override {}

   private:
    std::ostream& out_;
};

class json_writer final : public writer {
   public:
    json_writer(std::ostream& out, report_info info) : out_(out), info_(std::move(info)) {}
    void begin(const std::vector<output_column>& columns) override {
        columns_ = columns;
        totals_.reset(columns.size());
        auto cols = nlohmann::json::array();
        for (const auto& c : columns) {
            cols.push_back({{"name", c.name}, {"label", c.format.label.empty() ? c.name : c.format.label}});
        }
        out_ << "{\"report\":" << nlohmann::json(info_.name).dump() << ",\"title\":" << nlohmann::json(info_.title).dump()
             << ",\"parameters\":" << info_.parameters.dump() << ",\"generatedAt\":" << nlohmann::json(info_.generated_at).dump()
             << ",\"columns\":" << cols.dump() << ",\"rows\":[";
    }
    void row(const std::vector<cell>& values) override {
        nlohmann::json obj = nlohmann::json::object();
        for (size_t c = 0; c < values.size(); ++c) obj[columns_[c].name] = to_json(values[c]);
        out_ << (rows_++ ? "," : "") << obj.dump();
        totals_.add(values);
    }
    void end() override {
        nlohmann::json t = nlohmann::json::object();
        for (size_t c = 0; c < columns_.size(); ++c) {
            const cell total = totals_.of(c, columns_[c].format);
            if (!std::holds_alternative<std::monostate>(total)) t[columns_[c].name] = to_json(total);
        }
        out_ << "],\"rowCount\":" << rows_ << ",\"totals\":" << t.dump() << "}\n";
    }

   private:
    std::ostream& out_;
    report_info info_;
    std::vector<output_column> columns_;
    totals totals_;
    uint64_t rows_ = 0;
};

constexpr const char* page_style = R"css(
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d2330}
h1{font-size:1.6rem;margin:0 0 .25rem}
.desc{color:#4a5263;margin:.25rem 0 1rem}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.15rem 1rem;margin:0 0 1.25rem;color:#4a5263}
dl.meta dt{font-weight:600}dl.meta dd{margin:0}
table{border-collapse:collapse;width:100%}
th,td{padding:.35rem .6rem;border-bottom:1px solid #dde1e8;text-align:left;vertical-align:top}
thead th{background:#f3f5f9;border-bottom:2px solid #c5cbd6;position:sticky;top:0}
tbody tr:nth-child(even){background:#fafbfc}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tfoot th,tfoot td{font-weight:700;border-top:2px solid #c5cbd6;border-bottom:none}
.null{color:#9aa1ad}
.count{color:#4a5263;margin-top:.75rem}
@media print{thead th{position:static}}
)css";

class html_writer final : public writer {
   public:
    html_writer(std::ostream& out, report_info info) : out_(out), info_(std::move(info)) {}
    void begin(const std::vector<output_column>& columns) override {
        columns_ = columns;
        totals_.reset(columns.size());
        out_ << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
             << "<meta name=\"generator\" content=\"ticketd report\">\n<title>" << html_escape(info_.title)
             << "</title>\n<style>" << page_style << "</style>\n</head>\n<body>\n<header>\n<h1>"
             << html_escape(info_.title) << "</h1>\n";
        if (!info_.description.empty()) out_ << "<p class=\"desc\">" << html_escape(info_.description) << "</p>\n";
        out_ << "<dl class=\"meta\">\n<dt>Generated</dt><dd><time datetime=\"" << html_escape(info_.generated_at) << "\">"
             << html_escape(info_.generated_at) << "</time></dd>\n";
        for (const auto& [name, value] : info_.parameters.items()) {
            if (value.is_null()) continue;
            out_ << "<dt>" << html_escape(name) << "</dt><dd>"
                 << html_escape(value.is_string() ? value.get<std::string>() : value.dump()) << "</dd>\n";
        }
        out_ << "</dl>\n</header>\n<table>\n<thead><tr>";
        for (const auto& c : columns) {
            out_ << "<th scope=\"col\"" << (numeric_format(c.format) ? " class=\"num\"" : "") << ">"
                 << html_escape(c.format.label.empty() ? c.name : c.format.label) << "</th>";
        }
        out_ << "</tr></thead>\n<tbody>\n";
    }
    void row(const std::vector<cell>& values) override {
        out_ << "<tr>";
        for (size_t c = 0; c < values.size(); ++c) cell_html(values[c], columns_[c].format, "td");
        out_ << "</tr>\n";
        totals_.add(values);
        ++rows_;
    }
    void end() override {
        out_ << "</tbody>\n";
        std::vector<cell> sums(columns_.size());
        bool any = false;
        for (size_t c = 0; c < columns_.size(); ++c) {
            sums[c] = totals_.of(c, columns_[c].format);
            any = any || !std::holds_alternative<std::monostate>(sums[c]);
        }
        if (any && rows_ > 0) {
            out_ << "<tfoot><tr>";
            for (size_t c = 0; c < columns_.size(); ++c) {
                if (c == 0 && std::holds_alternative<std::monostate>(sums[c])) {
                    out_ << "<th scope=\"row\">Total</th>";
                } else {
                    cell_html(sums[c], columns_[c].format, "td");
                }
            }
            out_ << "</tr></tfoot>\n";
        }
        out_ << "</table>\n<p class=\"count\">" << rows_ << (rows_ == 1 ? " row" : " rows") << "</p>\n</body>\n</html>\n";
    }

   private:
    static bool numeric_format(const column_format& f) {
        return f.format == "integer" || f.format == "number" || f.format == "percent";
    }
    void cell_html(const cell& v, const column_format& f, const char* tag) {
        const bool num = is_number(v) && f.format != "text" && f.format != "date";
        out_ << "<" << tag << (num ? " class=\"num\"" : "") << ">";
        out_ << html_escape(format_cell(v, f));  // NULL: an empty cell
        out_ << "</" << tag << ">";
    }

    std::ostream& out_;
    report_info info_;
    std::vector<output_column> columns_;
    totals totals_;
    uint64_t rows_ = 0;
};

}  // namespace

std::string format_cell(const cell& v, const column_format& f) {
    if (!is_number(v) || f.format.empty() || f.format == "text" || f.format == "date") {
        return is_number(v) || std::holds_alternative<std::string>(v) ? f.prefix + raw_text(v) + f.suffix : "";
    }
    const double x = as_double(v);
    if (f.format == "integer") return f.prefix + grouped(std::round(x), 0) + f.suffix;
    if (f.format == "percent") return f.prefix + grouped(x * 100.0, f.decimals < 0 ? 1 : f.decimals) + "%" + f.suffix;
    return f.prefix + grouped(x, f.decimals < 0 ? 2 : f.decimals) + f.suffix;  // number
}

std::string csv_field(std::string_view text) {
    if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

std::unique_ptr<writer> make_writer(const std::string& format, std::ostream& out, report_info info) {
    if (format == "json") return std::make_unique<json_writer>(out, std::move(info));
    if (format == "html") return std::make_unique<html_writer>(out, std::move(info));
    return std::make_unique<csv_writer>(out);
}

}  // namespace plugins::report
