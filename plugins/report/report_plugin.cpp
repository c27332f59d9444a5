// report: runs a named, parameterised SQL report (or, when the settings allow it, one
// ad-hoc read-only SELECT) against a SQLite database and streams the rows to a CSV, JSON
// or self-contained HTML file. The connection is read-only and `query_only`; ad-hoc SQL is
// checked by SQLite itself (one statement, sqlite3_stmt_readonly), at submit time.
// Long queries report progress and are interrupted on cancel or timeout.
#include "../common/date.hpp"
#include "../common/sqlite.hpp"
#include "report_writer.hpp"

#include <nlohmann/json.hpp>
#include <ticketd/plugin.hpp>

#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <string>

namespace {

namespace sql = plugins::sqlite;
using namespace plugins::report;
using nlohmann::json;

constexpr const char* settings_schema = R"json({
  "type": "object",
  "required": ["database"],
  "properties": {
    "database": {"type": "string", "minLength": 1, "description": "SQLite database to read; ${state_dir} expands"},
    "allowAdHocSql": {"type": "boolean", "default": false,
                      "description": "let jobs send one read-only SELECT of their own in input.sql"},
    "maxRows": {"type": "integer", "minimum": 1, "default": 1000000},
    "busyTimeoutMs": {"type": "integer", "minimum": 0, "maximum": 600000, "default": 30000},
    "maxValueBytes": {"type": "integer", "minimum": 1024, "maximum": 1000000000, "default": 16777216,
                      "description": "the largest string or blob a query may build (SQLITE_LIMIT_LENGTH)"},
    "reports": {
      "type": "object",
      "propertyNames": {"pattern": "^[a-z0-9][a-z0-9-]{0,62}$"},
      "additionalProperties": {
        "type": "object",
        "required": ["title", "sql"],
        "properties": {
          "title": {"type": "string", "minLength": 1},
          "description": {"type": "string"},
          "sql": {"type": "string", "minLength": 1},
          "parameters": {
            "type": "object",
            "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,62}$"},
            "additionalProperties": {
              "type": "object",
              "properties": {
                "type": {"enum": ["string", "integer", "number", "date", "boolean"], "default": "string"},
                "required": {"type": "boolean", "default": false},
                "default": {},
                "description": {"type": "string"}
              },
              "additionalProperties": false
            }
          },
          "columns": {
            "type": "object",
            "additionalProperties": {
              "type": "object",
              "properties": {
                "label": {"type": "string"},
                "format": {"enum": ["text", "integer", "number", "percent", "date"]},
                "decimals": {"type": "integer", "minimum": 0, "maximum": 10},
                "prefix": {"type": "string", "maxLength": 8},
                "suffix": {"type": "string", "maxLength": 8}
              },
              "additionalProperties": false
            }
          }
        },
        "additionalProperties": false
      }
    }
  },
  "additionalProperties": false
})json";

constexpr const char* input_schema = R"json({
  "type": "object",
  "properties": {
    "report": {"type": "string", "description": "a report named in the job type's settings"},
    "sql": {"type": "string", "minLength": 1, "maxLength": 100000,
            "description": "one read-only statement, when the settings allow ad-hoc SQL"},
    "parameters": {"type": "object", "description": "values for the report's parameters"},
    "format": {"enum": ["csv", "json", "html"], "default": "csv"}
  },
  "additionalProperties": false
})json";

struct parameter {
    std::string type = "string";
    bool required = false;
    json fallback;  // null: none
};

struct report_def {
    std::string title;
    std::string description;
    std::string sql;
    std::map<std::string, parameter> parameters;
    std::map<std::string, column_format> columns;
};

// Why `v` is not a valid value of parameter type `type` ("" when it is).
std::string check_value(const std::string& type, const json& v) {
    if (type == "integer") return v.is_number_integer() ? "" : "must be an integer";
    if (type == "number") return v.is_number() ? "" : "must be a number";
    if (type == "boolean") return v.is_boolean() ? "" : "must be true or false";
    if (!v.is_string()) return "must be a string";
    if (type == "date" && !plugins::valid_date(v.get<std::string>())) return "must be a date (YYYY-MM-DD)";
    if (v.get_ref<const std::string&>().size() > 1000) return "must be at most 1000 characters";
    return "";
}

std::string utc_stamp(const char* format) {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, format, &tm);
    return buf;
}

// Denies what a read-only report never needs, whatever the statement: attaching other
// files and changing or reading settings (PRAGMA, and the pragma_* table functions: those
// are read as tables when the statement is prepared, and run a PRAGMA only when stepped).
// Ad-hoc SQL (`user` non-null) may not read ticketd's bookkeeping tables (`_ticketd*`)
// either: those are the operator's, not the client's.
int authorize(void* user, int action, const char* table, const char*, const char*, const char*) {
    const auto named = [table](const char* prefix) {
        return table != nullptr && sqlite3_strnicmp(table, prefix, static_cast<int>(std::strlen(prefix))) == 0;
    };
    switch (action) {
        case SQLITE_ATTACH:
        case SQLITE_DETACH:
        case SQLITE_PRAGMA: return SQLITE_DENY;
        case SQLITE_READ: return named("pragma_") || (user != nullptr && named("_ticketd")) ? SQLITE_DENY : SQLITE_OK;
        default: return SQLITE_OK;
    }
}

// Any non-null pointer marks a connection that runs ad-hoc SQL.
int ad_hoc_marker = 0;

class reporter final : public ticketd::handler {
   public:
    explicit reporter(std::string_view settings_json) {
        const auto s = json::parse(settings_json);
        database_ = s.at("database").get<std::string>();
        allow_ad_hoc_ = s.value("allowAdHocSql", false);
        max_rows_ = s.value("maxRows", int64_t{1000000});
        busy_timeout_ms_ = s.value("busyTimeoutMs", 30000);
        max_value_bytes_ = s.value("maxValueBytes", 16 << 20);
        const json reports = s.value("reports", json::object());  // named: items() must not outlive it
        for (const auto& [name, r] : reports.items()) {
            report_def def;
            def.title = r.at("title").get<std::string>();
            def.description = r.value("description", "");
            def.sql = r.at("sql").get<std::string>();
            const json parameters = r.value("parameters", json::object());
            for (const auto& [pname, p] : parameters.items()) {
                parameter param{p.value("type", "string"), p.value("required", false), p.value("default", json())};
                if (!param.fallback.is_null()) {
                    const auto why = check_value(param.type, param.fallback);
                    if (!why.empty()) {
                        throw std::runtime_error("reports." + name + ".parameters." + pname + ".default " + why);
                    }
                }
                def.parameters[pname] = std::move(param);
            }
            const json columns = r.value("columns", json::object());
            for (const auto& [cname, c] : columns.items()) {
                def.columns[cname] = {c.value("label", ""), c.value("format", ""), c.value("decimals", -1),
                                      c.value("prefix", ""), c.value("suffix", "")};
            }
            reports_[name] = std::move(def);
        }
        if (reports_.empty() && !allow_ad_hoc_) {
            throw std::runtime_error("no reports are defined and allowAdHocSql is false: jobs could run nothing; "
                                     "define reports or allow ad-hoc SQL");
        }
    }

    void validate(std::string_view input_json, ticketd::validation& v) override {
        const auto in = json::parse(input_json);
        if (in.contains("report") == in.contains("sql")) {
            v.add("", allow_ad_hoc_ ? "give either report (a named report) or sql" : "give report, the name of a report");
            return;
        }
        if (in.contains("sql")) {
            if (!allow_ad_hoc_) {
                v.add("/sql", "this job type runs only its named reports; ad-hoc SQL is not allowed by its settings");
                return;
            }
            if (in.contains("parameters")) v.add("/parameters", "ad-hoc SQL takes no parameters");
            // Checked by SQLite against the real schema: read-only, one statement.
            try {
                sql::database db(database_, SQLITE_OPEN_READONLY);
                const std::string why = check_ad_hoc(db, in["sql"].get<std::string>());
                if (!why.empty()) v.add("/sql", why);
            } catch (const sql::error& e) {
                v.add("/sql", e.what());
            }
            return;
        }
        const std::string name = in["report"].get<std::string>();
        const auto it = reports_.find(name);
        if (it == reports_.end()) {
            std::string known;
            for (const auto& [n, r] : reports_) known += (known.empty() ? "" : ", ") + n;
            v.add("/report", "no report named '" + name + "'; this job type has: " + known);
            return;
        }
        const json params = in.value("parameters", json::object());
        for (const auto& [pname, value] : params.items()) {
            const auto p = it->second.parameters.find(pname);
            if (p == it->second.parameters.end()) {
                v.add("/parameters/" + pname, "report '" + name + "' has no parameter '" + pname + "'");
            } else if (const auto why = check_value(p->second.type, value); !why.empty()) {
                v.add("/parameters/" + pname, why);
            }
        }
        for (const auto& [pname, p] : it->second.parameters) {
            if (p.required && !params.contains(pname)) v.add("/parameters/" + pname, "is required");
        }
    }

    void run(ticketd::job& job) override {
        try {
            report(job);
        } catch (const sql::error& e) {
            job.check_canceled();  // a cancel interrupts SQLite: report the cancel, not the error
            if (e.code() == SQLITE_TOOBIG) {
                throw ticketd::job_failed("value-too-big", "the query builds a value larger than maxValueBytes (" +
                                                               std::to_string(max_value_bytes_) + " bytes)");
            }
            throw ticketd::job_failed("query-failed", std::string("SQLite: ") + e.what());
        }
    }

   private:
    // Why this ad-hoc SQL may not run ("" when it may).
    static std::string check_ad_hoc(sql::database& db, const std::string& text) {
        sqlite3_set_authorizer(db.get(), &authorize, &ad_hoc_marker);
        sql::statement s(db, text);
        // Only whitespace and comments may follow the first statement.
        std::string_view tail = s.tail();
        while (!tail.empty()) {
            if (std::isspace(static_cast<unsigned char>(tail.front())) || tail.front() == ';') {
                tail.remove_prefix(1);
            } else if (tail.rfind("--", 0) == 0) {
                const auto nl = tail.find('\n');
                tail = nl == std::string_view::npos ? std::string_view() : tail.substr(nl);
            } else if (tail.rfind("/*", 0) == 0) {
                const auto end = tail.find("*/");
                tail = end == std::string_view::npos ? std::string_view() : tail.substr(end + 2);
            } else {
                return "only one statement may be sent";
            }
        }
        if (!sqlite3_stmt_readonly(s.get())) return "only read-only statements (SELECT ...) may be sent";
        if (s.columns() == 0) return "the statement returns no columns";
        if (sqlite3_bind_parameter_count(s.get()) > 0) return "ad-hoc SQL takes no parameters";
        return "";
    }

    void report(ticketd::job& job) {
        const auto in = json::parse(job.input());
        const std::string format = in.value("format", "csv");
        const report_def* def = nullptr;
        report_def ad_hoc;
        std::string name = "query";
        if (in.contains("report")) {
            name = in["report"].get<std::string>();
            def = &reports_.at(name);
        } else {
            ad_hoc.title = "Query";
            ad_hoc.sql = in.at("sql").get<std::string>();
            def = &ad_hoc;
        }

        sql::database db(database_, SQLITE_OPEN_READONLY);
        db.exec("PRAGMA query_only = 1");
        sqlite3_set_authorizer(db.get(), &authorize, def == &ad_hoc ? &ad_hoc_marker : nullptr);
        // A query that builds a giant value (randomblob, zeroblob, printf, group_concat)
        // fails "string or blob too big" instead of taking the daemon's memory.
        sqlite3_limit(db.get(), SQLITE_LIMIT_LENGTH, max_value_bytes_);
        sql::busy_wait wait(db, busy_timeout_ms_, [&job] { return job.canceled(); });
        struct query_progress {
            ticketd::job* job;
            std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
            std::chrono::steady_clock::time_point last = started;
            uint64_t rows = 0;
        } progress{&job};
        // Every 10k virtual machine steps: stop if asked to, say how long it has run.
        sqlite3_progress_handler(db.get(), 10000, [](void* p) {
            auto* q = static_cast<query_progress*>(p);
            if (q->job->canceled()) return 1;
            const auto now = std::chrono::steady_clock::now();
            if (now - q->last >= std::chrono::seconds(1)) {
                q->last = now;
                const auto secs = std::chrono::duration_cast<std::chrono::seconds>(now - q->started).count();
                q->job->progress(10, "running the query (" + std::to_string(secs) + " s, " +
                                         std::to_string(q->rows) + " rows so far)");
            }
            return 0;
        }, &progress);

        job.progress(5, "running the query");
        sql::statement s(db, def->sql);
        if (!in.contains("report") && !sqlite3_stmt_readonly(s.get())) {
            throw ticketd::job_failed("not-read-only", "only read-only statements may run");
        }
        const json params = bind_parameters(s, *def, in.value("parameters", json::object()));

        std::vector<output_column> columns;
        for (int c = 0; c < s.columns(); ++c) {
            const std::string cname = s.name(c);
            const auto f = def->columns.find(cname);
            columns.push_back({cname, f == def->columns.end() ? column_format{} : f->second});
        }
        const std::map<std::string, std::string> kinds = {
            {"csv", "text/csv; charset=utf-8"}, {"json", "application/json"}, {"html", "text/html; charset=utf-8"}};
        std::ofstream out(job.result_file(kinds.at(format)), std::ios::binary);
        job.set_result_name(name + "-" + utc_stamp("%Y%m%d-%H%M%S") + "." + format);
        auto writer = make_writer(format, out, {def->title, def->description, name, params, utc_stamp("%Y-%m-%dT%H:%M:%SZ")});
        writer->begin(columns);
        std::vector<cell> row(columns.size());
        while (s.step()) {
            if (static_cast<int64_t>(++progress.rows) > max_rows_) {
                throw ticketd::job_failed("too-many-rows", "the report has more than " + std::to_string(max_rows_) +
                                                               " rows (maxRows); narrow it with its parameters");
            }
            for (size_t c = 0; c < columns.size(); ++c) {
                const int i = static_cast<int>(c);
                switch (s.type(i)) {
                    case SQLITE_NULL: row[c] = std::monostate{}; break;
                    case SQLITE_INTEGER: row[c] = s.int64(i); break;
                    case SQLITE_FLOAT: row[c] = s.real(i); break;
                    default: row[c] = std::string(s.text(i)); break;
                }
            }
            writer->row(row);
        }
        writer->end();
        out.close();
        if (!out) throw ticketd::job_failed("write-failed", "the report file could not be written");
        job.progress(100, std::to_string(progress.rows) + " rows");
    }

    // Binds :name parameters from the input (or their defaults); returns the value of
    // every declared parameter (null: not given, no default), as the report shows them.
    static json bind_parameters(sql::statement& s, const report_def& def, const json& given) {
        json used = json::object();
        for (const auto& [pname, p] : def.parameters) used[pname] = given.contains(pname) ? given[pname] : p.fallback;
        for (int i = 1; i <= sqlite3_bind_parameter_count(s.get()); ++i) {
            const char* raw = sqlite3_bind_parameter_name(s.get(), i);
            const std::string pname = raw ? std::string(raw + 1) : "";
            const auto p = def.parameters.find(pname);
            if (p == def.parameters.end()) {
                throw ticketd::job_failed("bad-report", "the report's SQL uses parameter '" + pname +
                                                            "', which its settings do not declare");
            }
            const json value = used[pname];
            if (value.is_null()) s.bind_null(i);
            else if (value.is_boolean()) s.bind(i, int64_t{value.get<bool>() ? 1 : 0});
            else if (value.is_number_integer()) s.bind(i, value.get<int64_t>());
            else if (value.is_number()) s.bind(i, value.get<double>());
            else s.bind(i, value.get<std::string>());
        }
        return used;
    }

    std::string database_;
    bool allow_ad_hoc_ = false;
    int64_t max_rows_ = 1000000;
    int busy_timeout_ms_ = 30000;
    int max_value_bytes_ = 16 << 20;
    std::map<std::string, report_def> reports_;
};

}  // namespace

TICKETD_PLUGIN(reporter, "report", "1.0.0", "Apache-2.0",
               "Runs named SQL reports on a SQLite database into CSV, JSON or HTML", settings_schema, input_schema)
