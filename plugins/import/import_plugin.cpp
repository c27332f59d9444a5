// import: bulk-loads a CSV (RFC 4180) or NDJSON upload into a table of a SQLite database.
//
// Rows are converted to their declared column types as they stream in and written in
// batched transactions to a staging database in the attempt's scratch directory. Only
// when the whole file is read do they move to the target table, in ONE transaction that
// also records the job id in the `_ticketd_imports` ledger: readers never see half an
// import, a cancel or timeout leaves the target untouched, and a retried attempt of a job
// whose rows are already in finds its ledger entry and imports nothing twice.
#include "../common/date.hpp"
#include "../common/sqlite.hpp"
#include "../common/utf8.hpp"
#include "csv_reader.hpp"

#include <nlohmann/json.hpp>
#include <ticketd/plugin.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace {

namespace sql = plugins::sqlite;
using plugins::import::byte_source;
using plugins::import::csv_reader;
using plugins::import::line_reader;
using plugins::import::record;
using nlohmann::json;

constexpr const char* settings_schema = R"json({
  "type": "object",
  "required": ["database"],
  "properties": {
    "database": {"type": "string", "minLength": 1,
                 "description": "SQLite database file to import into (created if missing); ${state_dir} expands"},
    "tables": {"type": "array", "items": {"type": "string"}, "uniqueItems": true,
               "description": "if set, the only tables jobs may import into"},
    "batchRows": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 10000},
    "maxErrors": {"type": "integer", "minimum": 0, "maximum": 10000, "default": 100,
                  "description": "rejected rows listed in the result (all are counted)"},
    "busyTimeoutMs": {"type": "integer", "minimum": 0, "maximum": 600000, "default": 30000}
  },
  "additionalProperties": false
})json";

// The one file a job reads. Media types: what CSV and NDJSON arrive as from browsers, curl
// and SDKs; an image, archive or video is refused at submit.
constexpr const char* files = R"json({
  "source": {"required": true, "description": "the CSV or NDJSON rows to load",
             "mediaTypes": ["text/*", "application/csv", "application/vnd.ms-excel", "application/x-ndjson",
                            "application/jsonl", "application/json", "application/octet-stream"]}
})json";

constexpr const char* input_schema = R"json({
  "type": "object",
  "required": ["table", "format"],
  "properties": {
    "file": {"const": "source",
             "description": "the upload's name in files: always source, the file declared (before 1.1.0, any name)"},
    "table": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,62}$"},
    "format": {"enum": ["csv", "ndjson"]},
    "header": {"type": "boolean", "default": true, "description": "csv: the first record names the columns"},
    "delimiter": {"enum": [",", ";", "\t", "|"], "default": ","},
    "columns": {
      "type": "array", "minItems": 1, "maxItems": 500,
      "items": {
        "type": "object", "required": ["name"],
        "properties": {
          "name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_ ]{0,62}$"},
          "type": {"enum": ["text", "integer", "real", "boolean", "date"], "default": "text"},
          "notNull": {"type": "boolean", "default": false}
        },
        "additionalProperties": false
      }
    },
    "types": {"type": "object", "additionalProperties": {"enum": ["text", "integer", "real", "boolean", "date"]},
              "description": "csv with a header and no columns: declared types by header name (default text)"},
    "mode": {"enum": ["append", "replace"], "default": "append"},
    "onError": {"enum": ["skip", "abort"], "default": "abort"}
  },
  "additionalProperties": false
})json";

enum class col_type { text, integer, real, boolean, date };

col_type parse_type(const std::string& s) {
    if (s == "integer") return col_type::integer;
    if (s == "real") return col_type::real;
    if (s == "boolean") return col_type::boolean;
    if (s == "date") return col_type::date;
    return col_type::text;
}

const char* sql_type(col_type t) {
    switch (t) {
        case col_type::integer:
        case col_type::boolean: return "INTEGER";
        case col_type::real: return "REAL";
        case col_type::text:
        case col_type::date: return "TEXT";
    }
    return "TEXT";
}

struct column {
    std::string name;
    col_type type = col_type::text;
    bool not_null = false;
    size_t source = 0;  // csv: index of the field in each record
};

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// A row's objects and arrays nest at most this deep (as the daemon bounds a request body).
constexpr size_t max_row_depth = 64;

// True when the JSON text opens at most `limit` levels, checked before a tree is built.
// Brackets inside strings do not count; malformed text is left to the parser.
bool nesting_within(std::string_view text, size_t limit) {
    size_t depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) return false;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return true;
}

std::string quoted_value(std::string_view v) {
    return "'" + std::string(v.substr(0, 40)) + (v.size() > 40 ? "...'" : "'");
}

// Binds a text field converted to the column's type; returns why it does not fit, or "".
std::string bind_text(sql::statement& s, int index, const column& c, std::string_view raw) {
    if (c.type == col_type::text) {
        if (raw.empty() && c.not_null) return "column '" + c.name + "' is required";
        if (!plugins::valid_utf8(raw)) return "column '" + c.name + "' is not valid UTF-8";
        s.bind(index, raw);
        return {};
    }
    const std::string_view v = trim(raw);
    if (v.empty()) {
        if (c.not_null) return "column '" + c.name + "' is required";
        s.bind_null(index);
        return {};
    }
    switch (c.type) {
        case col_type::integer: {
            const std::string_view digits = v.front() == '+' ? v.substr(1) : v;
            int64_t n = 0;
            const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
            if (ec == std::errc::result_out_of_range) return "column '" + c.name + "': " + quoted_value(v) + " is out of the 64-bit integer range";
            if (ec != std::errc() || p != digits.data() + digits.size()) {
                return "column '" + c.name + "': " + quoted_value(v) + " is not an integer";
            }
            s.bind(index, n);
            return {};
        }
        case col_type::real: {
            const std::string_view digits = v.front() == '+' ? v.substr(1) : v;
            double x = 0;
            const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), x);
            if (ec != std::errc() || p != digits.data() + digits.size() || !std::isfinite(x)) {
                return "column '" + c.name + "': " + quoted_value(v) + " is not a number";
            }
            s.bind(index, x);
            return {};
        }
        case col_type::boolean: {
            std::string lower(v);
            for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            if (lower == "true" || lower == "t" || lower == "yes" || lower == "y" || lower == "1") {
                s.bind(index, int64_t{1});
            } else if (lower == "false" || lower == "f" || lower == "no" || lower == "n" || lower == "0") {
                s.bind(index, int64_t{0});
            } else {
                return "column '" + c.name + "': " + quoted_value(v) + " is not a boolean (true/false, yes/no, 1/0)";
            }
            return {};
        }
        case col_type::date:
            if (!plugins::valid_date(v)) return "column '" + c.name + "': " + quoted_value(v) + " is not a date (YYYY-MM-DD)";
            s.bind(index, v);
            return {};
        case col_type::text: break;
    }
    return {};
}

// NDJSON values: JSON types must match; strings are converted as CSV fields are.
std::string bind_json(sql::statement& s, int index, const column& c, const json& v) {
    if (v.is_null()) {
        if (c.not_null) return "column '" + c.name + "' is required";
        s.bind_null(index);
        return {};
    }
    if (v.is_string()) return bind_text(s, index, c, v.get_ref<const std::string&>());
    switch (c.type) {
        case col_type::integer:
            if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
                return "column '" + c.name + "': " + v.dump() + " is out of the 64-bit integer range";
            }
            if (v.is_number_integer()) {
                s.bind(index, v.get<int64_t>());
                return {};
            }
            break;
        case col_type::real:
            if (v.is_number()) {
                s.bind(index, v.get<double>());
                return {};
            }
            break;
        case col_type::boolean:
            if (v.is_boolean()) {
                s.bind(index, int64_t{v.get<bool>() ? 1 : 0});
                return {};
            }
            break;
        case col_type::text:
            if (v.is_number() || v.is_boolean()) {
                s.bind(index, v.dump());
                return {};
            }
            break;
        case col_type::date: break;
    }
    return "column '" + c.name + "': " + v.dump().substr(0, 40) + " does not fit type " +
           std::string(c.type == col_type::integer ? "integer" : c.type == col_type::real ? "real"
                       : c.type == col_type::boolean ? "boolean" : c.type == col_type::date ? "date" : "text");
}

std::string now_rfc3339() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

class importer final : public ticketd::handler {
   public:
    explicit importer(std::string_view settings_json) {
        const auto s = json::parse(settings_json);
        database_ = s.at("database").get<std::string>();
        batch_rows_ = s.value("batchRows", 10000);
        max_errors_ = s.value("maxErrors", 100);
        busy_timeout_ms_ = s.value("busyTimeoutMs", 30000);
        if (s.contains("tables")) {
            for (const auto& t : s["tables"]) tables_.insert(t.get<std::string>());
        }
    }

    // Cross-field rules the schema cannot express.
    void validate(std::string_view input_json, ticketd::validation& v) override {
        const auto in = json::parse(input_json);
        const std::string table = in.value("table", "");
        if (!tables_.empty() && tables_.count(table) == 0) {
            std::string allowed;
            for (const auto& t : tables_) allowed += (allowed.empty() ? "" : ", ") + t;
            v.add("/table", "this job type imports only into: " + allowed);
        }
        if (table.rfind("sqlite_", 0) == 0 || table.rfind("_ticketd", 0) == 0) {
            v.add("/table", "names starting with sqlite_ or _ticketd are reserved");
        }
        const bool csv = in.value("format", "") == "csv";
        const bool header = in.value("header", true);
        if (!in.contains("columns") && (!csv || !header)) {
            v.add("/columns", csv ? "without a header row, list the columns" : "NDJSON imports list their columns");
        }
        if (in.contains("columns") && in.contains("types")) {
            v.add("/types", "give the types in columns[].type when columns are listed");
        }
        if (!csv && (in.contains("header") || in.contains("delimiter") || in.contains("types"))) {
            v.add("", "header, delimiter and types apply to csv only");
        }
        if (in.contains("columns")) {
            std::set<std::string> seen;
            for (size_t i = 0; i < in["columns"].size(); ++i) {
                if (!seen.insert(lower(in["columns"][i].value("name", ""))).second) {
                    v.add("/columns/" + std::to_string(i) + "/name", "duplicate column name");
                }
            }
        }
    }

    void run(ticketd::job& job) override {
        try {
            import(job);
        } catch (const sql::error& e) {
            job.check_canceled();  // a cancel interrupts SQLite: report the cancel, not the error
            // Another writer held the database past busyTimeoutMs, or its disk is full: the
            // transaction was rolled back whole, and another attempt may well pass.
            if (e.code() == SQLITE_BUSY || e.code() == SQLITE_LOCKED || e.code() == SQLITE_FULL) {
                throw ticketd::job_failed("database-busy", std::string("SQLite: ") + e.what(), ticketd::retry);
            }
            throw ticketd::job_failed("database-error", std::string("SQLite: ") + e.what());
        }
    }

   private:
    void import(ticketd::job& job) {
        const auto started = std::chrono::steady_clock::now();
        const auto in = json::parse(job.input());
        const std::string table = in.at("table").get<std::string>();
        const bool csv = in.at("format") == "csv";
        const bool skip_bad_rows = in.value("onError", "abort") == "skip";
        const bool replace = in.value("mode", "append") == "replace";
        // `source` is declared required; a job accepted before it was (another name, or
        // none) or a host that does not check declared files can still arrive without it.
        const std::string file_name = in.value("file", "source");
        const std::string path(job.input_file(file_name));
        if (path.empty()) {
            throw ticketd::job_failed("no-file", "the job has no file named '" + file_name +
                                                     "'; submit it with \"files\": {\"source\": \"<upload id>\"}");
        }

        sql::database db(database_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        // Waiting for another writer (a report, another import) stays cancelable.
        sql::busy_wait wait(db, busy_timeout_ms_, [&job] { return job.canceled(); });
        db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL");
        // Cancel and timeout interrupt whatever statement runs (and roll it back).
        sqlite3_progress_handler(db.get(), 10000, [](void* j) { return static_cast<ticketd::job*>(j)->canceled() ? 1 : 0; }, &job);
        db.exec("CREATE TABLE IF NOT EXISTS _ticketd_imports (job_id TEXT PRIMARY KEY, target TEXT NOT NULL, "
                "rows INTEGER NOT NULL, result TEXT NOT NULL, imported_at TEXT NOT NULL)");
        if (auto done = ledger_entry(db, job.id())) {
            job.log(ticketd::log_level::info, "already imported by an earlier attempt; not importing again");
            job.set_result("application/json", *done);
            return;
        }

        std::optional<byte_source> source;
        try {
            source.emplace(path);
        } catch (const std::exception& e) {
            throw ticketd::job_failed("no-file", e.what());
        }
        std::optional<csv_reader> csv_in;
        std::optional<line_reader> lines_in;
        try {
            if (csv) csv_in.emplace(*source, in.value("delimiter", ",")[0]);
            else lines_in.emplace(*source);
        } catch (const std::runtime_error& e) {
            throw ticketd::job_failed("bad-encoding", e.what());
        }
        std::vector<column> columns = declared_columns(in);
        record rec;
        if (csv && in.value("header", true)) {
            if (!csv_in->next(rec) || !rec.error.empty()) {
                throw ticketd::job_failed("bad-header", rec.error.empty() ? "the file is empty: no header row"
                                                                          : "line 1 (header): " + rec.error);
            }
            for (const auto& name : rec.fields) {
                if (!plugins::valid_utf8(name)) throw ticketd::job_failed("bad-header", "line 1 (header): a column name is not valid UTF-8");
            }
            columns = columns_from_header(rec.fields, in, columns);
        }
        // A new table is created in the final transaction, so a failed import leaves none.
        const std::string create_table = check_target(db, table, columns);

        // Stage: a throwaway database in the scratch directory; fast, since it need not
        // survive a crash (a retry starts the file again).
        const std::string stage = std::string(job.scratch_dir()) + "/stage.db";
        sql::statement attach(db, "ATTACH DATABASE ?1 AS stage");
        attach.bind(1, stage).run();
        db.exec("PRAGMA stage.journal_mode=OFF; PRAGMA stage.synchronous=OFF");
        std::string names, params;
        for (size_t i = 0; i < columns.size(); ++i) {
            names += (i ? ", " : "") + sql::quote_identifier(columns[i].name);
            params += (i ? ", ?" : "?") + std::to_string(i + 1);
        }
        db.exec("CREATE TABLE stage.rows (" + names + ")");
        sql::statement insert(db, "INSERT INTO stage.rows (" + names + ") VALUES (" + params + ")");

        uint64_t read = 0, imported = 0, rejected = 0;
        json errors = json::array();
        auto reject = [&](uint64_t line, const std::string& why) {
            ++rejected;
            if (!skip_bad_rows) {
                throw ticketd::job_failed("row-rejected", "line " + std::to_string(line) + ": " + why +
                                                              " (set \"onError\": \"skip\" to import the other rows)");
            }
            if (errors.size() < static_cast<size_t>(max_errors_)) errors.push_back({{"line", line}, {"reason", why}});
        };
        db.exec("BEGIN");
        for (;;) {
            const bool more = csv ? csv_in->next(rec) : lines_in->next(rec);
            if (!more) break;
            ++read;
            if (!rec.error.empty()) {
                reject(rec.line, rec.error);
                continue;
            }
            const std::string why = csv ? bind_csv_row(insert, columns, rec) : bind_ndjson_row(insert, columns, rec);
            if (!why.empty()) {
                insert.reset();
                reject(rec.line, why);
                continue;
            }
            insert.run();
            insert.reset();
            if (++imported % static_cast<uint64_t>(batch_rows_) == 0) {
                db.exec("COMMIT; BEGIN");
                job.check_canceled();
                const double fraction =
                    source->size() ? static_cast<double>(source->offset()) / static_cast<double>(source->size()) : 1.0;
                job.progress(95.0 * fraction, std::to_string(imported) + " rows staged");
            }
        }
        db.exec("COMMIT");
        job.check_canceled();
        job.progress(95.0, std::to_string(imported) + " rows read; moving them into " + table);

        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        const json result = {{"table", table},
                             {"format", csv ? "csv" : "ndjson"},
                             {"mode", replace ? "replace" : "append"},
                             {"rowsRead", read},
                             {"rowsImported", imported},
                             {"rowsRejected", rejected},
                             {"errors", errors},
                             {"errorsTruncated", rejected > errors.size()},
                             {"bytesRead", source->offset()},
                             {"durationMs", ms.count()}};
        // The one transaction the target sees: rows and ledger entry together.
        try {
            db.exec("BEGIN IMMEDIATE");
            if (auto done = ledger_entry(db, job.id())) {
                db.exec("ROLLBACK");
                job.set_result("application/json", *done);
                return;
            }
            if (!create_table.empty()) db.exec(create_table);
            if (replace) db.exec("DELETE FROM main." + sql::quote_identifier(table));
            db.exec("INSERT INTO main." + sql::quote_identifier(table) + " (" + names + ") SELECT " + names +
                    " FROM stage.rows");
            sql::statement ledger(db, "INSERT INTO _ticketd_imports (job_id, target, rows, result, imported_at) "
                                      "VALUES (?1, ?2, ?3, ?4, ?5)");
            ledger.bind(1, job.id()).bind(2, table).bind(3, static_cast<int64_t>(imported)).bind(4, result.dump(-1, ' ', false, json::error_handler_t::replace))
                .bind(5, now_rfc3339()).run();
            db.exec("COMMIT");
        } catch (const sql::error&) {
            if (!sqlite3_get_autocommit(db.get())) db.exec("ROLLBACK");
            throw;
        }
        db.exec("DETACH DATABASE stage");
        job.progress(100.0, std::to_string(imported) + " rows imported into " + table);
        job.set_result("application/json", result.dump(-1, ' ', false, json::error_handler_t::replace));
    }

    static std::string lower(std::string s) {
        for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return s;
    }

    static std::optional<std::string> ledger_entry(sql::database& db, std::string_view job_id) {
        sql::statement s(db, "SELECT result FROM _ticketd_imports WHERE job_id = ?1");
        s.bind(1, job_id);
        if (s.step()) return std::string(s.text(0));
        return std::nullopt;
    }

    static std::vector<column> declared_columns(const json& in) {
        std::vector<column> out;
        if (!in.contains("columns")) return out;
        for (size_t i = 0; i < in["columns"].size(); ++i) {
            const auto& c = in["columns"][i];
            out.push_back({c.at("name").get<std::string>(), parse_type(c.value("type", "text")), c.value("notNull", false), i});
        }
        return out;
    }

    // The header names the fields: pick the declared columns by name, or take them all.
    static std::vector<column> columns_from_header(const std::vector<std::string>& header, const json& in,
                                                   std::vector<column> declared) {
        std::set<std::string> seen;
        for (const auto& h : header) {
            if (h.empty()) throw ticketd::job_failed("bad-header", "line 1 (header): a column has no name");
            if (!seen.insert(lower(h)).second) {
                throw ticketd::job_failed("bad-header", "line 1 (header): column '" + h + "' appears twice");
            }
        }
        auto index_of = [&](const std::string& name) -> std::optional<size_t> {
            for (size_t i = 0; i < header.size(); ++i) {
                if (lower(header[i]) == lower(name)) return i;
            }
            return std::nullopt;
        };
        if (!declared.empty()) {
            for (auto& c : declared) {
                const auto at = index_of(c.name);
                if (!at) throw ticketd::job_failed("bad-header", "line 1 (header): there is no column '" + c.name + "'");
                c.source = *at;
            }
            return declared;
        }
        const json types = in.value("types", json::object());
        for (const auto& [name, type] : types.items()) {
            if (!index_of(name)) {
                throw ticketd::job_failed("bad-header", "line 1 (header): types names '" + name +
                                                            "', which is not a column of the file");
            }
        }
        std::vector<column> out;
        for (size_t i = 0; i < header.size(); ++i) {
            column c{header[i], col_type::text, false, i};
            for (const auto& [name, type] : types.items()) {
                if (lower(name) == lower(header[i])) c.type = parse_type(type.get<std::string>());
            }
            out.push_back(std::move(c));
        }
        return out;
    }

    // Fails when an existing table lacks a column; returns the DDL to create a missing table.
    static std::string check_target(sql::database& db, const std::string& table, const std::vector<column>& columns) {
        sql::statement info(db, "SELECT lower(name) FROM pragma_table_info(?1)");
        info.bind(1, table);
        std::set<std::string> existing;
        while (info.step()) existing.insert(std::string(info.text(0)));
        if (existing.empty()) {
            std::string ddl = "CREATE TABLE IF NOT EXISTS main." + sql::quote_identifier(table) + " (";
            for (size_t i = 0; i < columns.size(); ++i) {
                ddl += (i ? ", " : "") + sql::quote_identifier(columns[i].name) + " " + sql_type(columns[i].type) +
                       (columns[i].not_null ? " NOT NULL" : "");
            }
            return ddl + ") STRICT";
        }
        std::string missing;
        for (const auto& c : columns) {
            if (existing.count(lower(c.name)) == 0) missing += (missing.empty() ? "'" : ", '") + c.name + "'";
        }
        if (!missing.empty()) {
            throw ticketd::job_failed("schema-mismatch", "table '" + table + "' exists without the column(s) " + missing +
                                                             "; import into a new table or add the columns");
        }
        return {};
    }

    static std::string bind_csv_row(sql::statement& insert, const std::vector<column>& columns, const record& rec) {
        size_t needed = 0;
        for (const auto& c : columns) needed = std::max(needed, c.source + 1);
        if (rec.fields.size() < needed) {
            return "expected " + std::to_string(needed) + " fields, found " + std::to_string(rec.fields.size());
        }
        for (size_t i = 0; i < columns.size(); ++i) {
            auto why = bind_text(insert, static_cast<int>(i + 1), columns[i], rec.fields[columns[i].source]);
            if (!why.empty()) return why;
        }
        return {};
    }

    static std::string bind_ndjson_row(sql::statement& insert, const std::vector<column>& columns, const record& rec) {
        if (!nesting_within(rec.fields[0], max_row_depth)) {
            return "nested deeper than " + std::to_string(max_row_depth) + " levels";
        }
        const auto row = json::parse(rec.fields[0], nullptr, false);
        if (row.is_discarded()) return "not valid JSON";
        if (!row.is_object()) return "expected a JSON object";
        for (size_t i = 0; i < columns.size(); ++i) {
            const auto it = row.find(columns[i].name);
            auto why = bind_json(insert, static_cast<int>(i + 1), columns[i], it == row.end() ? json() : *it);
            if (!why.empty()) return why;
        }
        return {};
    }

    std::string database_;
    int batch_rows_ = 10000;
    int max_errors_ = 100;
    int busy_timeout_ms_ = 30000;
    std::set<std::string> tables_;
};

}  // namespace

TICKETD_PLUGIN_WITH_FILES(importer, "import", "1.1.0", "Apache-2.0",
                          "Bulk-loads a CSV or NDJSON upload into a SQLite table, once per job", settings_schema,
                          input_schema, files)
