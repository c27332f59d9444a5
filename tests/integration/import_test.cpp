// The bundled `import` job type through the real daemon: CSV edge cases, NDJSON, type
// errors with line numbers, skip/abort, replace, exactly-once across retries and crashes,
// cancel while waiting for the database. Verified by reading the SQLite database.
#include "support/daemon_test.hpp"
#include "support/sqlite_reader.hpp"

#include <thread>

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {

daemon_config_text import_config() {
    daemon_config_text c;
    c.job_types["import.yaml"] =
        "type: import\nplugin: @PLUGINS@/import.so\nworkers: 2\nmax_attempts: 3\nretry_backoff: 0s\n"
        "settings:\n  database: \"${state_dir}/warehouse.db\"\n  batchRows: 1000\n  maxErrors: 2\n";
    c.job_types["import_quick.yaml"] =
        "type: import_quick\nplugin: @PLUGINS@/import.so\nretry:\n  max_attempts: 3\n  backoff: {initial: 500ms}\n"
        "settings:\n  database: \"${state_dir}/warehouse.db\"\n  busyTimeoutMs: 300\n";
    return c;
}

class import_jobs : public daemon_test_with<import_config> {
   protected:
    std::string db() const { return (d.dir() / "state" / "warehouse.db").string(); }

    // Uploads `data`, submits an import of it, returns the job id.
    std::string import(const std::string& data, nlohmann::json input) {
        auto up = d.upload(data, "text/csv");
        EXPECT_EQ(up.status, 201u) << up.body;
        auto r = d.submit_with_files("import", input, {{"source", up.member("id")}});
        EXPECT_EQ(r.status, 202u) << r.body;
        return r.json().value("id", "");
    }
    // True once the job has staged every row and waits for the target database (whose
    // write lock the test holds) to run its final transaction.
    bool at_final_transaction(const std::string& id) {
        return eventually([&] {
            auto j = d.get("/v1/jobs/" + id + "?redirect=false").json();
            return j.contains("progress") && j["progress"].value("percent", 0.0) >= 95.0;
        }, 60s);
    }
    nlohmann::json result_of(const std::string& id) {
        auto r = d.get("/v1/jobs/" + id + "/result");
        EXPECT_EQ(r.status, 200u) << r.body;
        return nlohmann::json::parse(r.body, nullptr, false);
    }
};

// RFC 4180 at its edges: a byte order mark, CRLF, quoted delimiters, doubled quotes, a
// newline inside a field, an empty field, and two bad rows.
const std::string tricky_csv =
    "\xEF\xBB\xBFregion,amount,note,day\r\n"
    "north,10.5,plain,2026-01-01\r\n"
    "\"south, east\",2,\"she said \"\"hi\"\"\",2026-01-02\r\n"
    "west,abc,bad amount,2026-01-03\r\n"
    "east,3,\"two\nlines\",2026-01-04\r\n"
    "short,1\r\n"
    "\r\n"
    "centre,,empty amount,2026-02-28\r\n";

}  // namespace

TEST_F(import_jobs, csv_edge_cases_are_read_exactly_and_bad_rows_are_skipped_with_their_lines) {
    const auto id = import(tricky_csv, {{"table", "sales"},
                                        {"format", "csv"},
                                        {"onError", "skip"},
                                        {"types", {{"amount", "real"}, {"day", "date"}}}});
    ASSERT_EQ(d.wait_terminal(id).value("status", ""), "succeeded");
    const auto r = result_of(id);
    EXPECT_EQ(r.value("rowsRead", 0), 6);
    EXPECT_EQ(r.value("rowsImported", 0), 4);
    EXPECT_EQ(r.value("rowsRejected", 0), 2);
    ASSERT_EQ(r["errors"].size(), 2u) << r.dump();
    EXPECT_EQ(r["errors"][0].value("line", 0), 4);
    EXPECT_NE(r["errors"][0].value("reason", "").find("'abc' is not a number"), std::string::npos) << r.dump();
    EXPECT_EQ(r["errors"][1].value("line", 0), 7);  // after the two-line record on lines 5-6
    EXPECT_NE(r["errors"][1].value("reason", "").find("expected 4 fields, found 2"), std::string::npos);

    sqlite_reader db(this->db());
    EXPECT_EQ(db.rows("SELECT region, amount, note, day FROM sales ORDER BY rowid"),
              (std::vector<std::string>{"north|10.5|plain|2026-01-01", "south, east|2.0|she said \"hi\"|2026-01-02",
                                        "east|3.0|two\nlines|2026-01-04", "centre|NULL|empty amount|2026-02-28"}));
    EXPECT_EQ(db.rows("SELECT type FROM pragma_table_info('sales') ORDER BY cid"),
              (std::vector<std::string>{"TEXT", "REAL", "TEXT", "TEXT"}));
}

TEST_F(import_jobs, abort_fails_on_the_first_bad_row_and_leaves_the_table_untouched) {
    const auto id = import(tricky_csv, {{"table", "sales"}, {"format", "csv"}, {"types", {{"amount", "real"}}}});
    const auto job = d.wait_terminal(id);
    ASSERT_EQ(job.value("status", ""), "failed");
    EXPECT_EQ(job["error"].value("code", ""), "import/row-rejected");
    EXPECT_NE(job["error"].value("detail", "").find("line 4: column 'amount'"), std::string::npos) << job.dump();
    sqlite_reader db(this->db());
    EXPECT_TRUE(db.rows("SELECT name FROM sqlite_master WHERE name = 'sales'").empty());  // not even created
}

TEST_F(import_jobs, ndjson_rows_are_typed_and_bad_lines_reported) {
    const std::string ndjson =
        "{\"sku\": \"a-1\", \"qty\": 3, \"price\": 2.5, \"active\": true}\n"
        "{\"sku\": \"b-2\", \"qty\": \"4\", \"price\": 1, \"active\": false, \"extra\": 1}\n"
        "not json\n"
        "{\"sku\": \"c-3\", \"qty\": 1.5}\n"
        "\n"
        "{\"sku\": \"d-4\"}\n";
    const auto id = import(ndjson, {{"table", "stock"},
                                    {"format", "ndjson"},
                                    {"onError", "skip"},
                                    {"columns",
                                     {{{"name", "sku"}, {"type", "text"}, {"notNull", true}},
                                      {{"name", "qty"}, {"type", "integer"}},
                                      {{"name", "price"}, {"type", "real"}},
                                      {{"name", "active"}, {"type", "boolean"}}}}});
    ASSERT_EQ(d.wait_terminal(id).value("status", ""), "succeeded");
    const auto r = result_of(id);
    EXPECT_EQ(r.value("rowsImported", 0), 3);
    EXPECT_EQ(r.value("rowsRejected", 0), 2);
    EXPECT_EQ(r["errors"][0].value("line", 0), 3);
    EXPECT_EQ(r["errors"][1].value("line", 0), 4);
    sqlite_reader db(this->db());
    EXPECT_EQ(db.rows("SELECT sku, qty, price, active FROM stock ORDER BY sku"),
              (std::vector<std::string>{"a-1|3|2.5|1", "b-2|4|1.0|0", "d-4|NULL|NULL|NULL"}));
}

TEST_F(import_jobs, replace_swaps_the_contents_and_append_adds) {
    const std::string first = "k,v\n1,a\n2,b\n";
    const std::string second = "k,v\n3,c\n";
    ASSERT_EQ(d.wait_terminal(import(first, {{"table", "kv"}, {"format", "csv"}})).value("status", ""), "succeeded");
    ASSERT_EQ(d.wait_terminal(import(second, {{"table", "kv"}, {"format", "csv"}})).value("status", ""), "succeeded");
    sqlite_reader db(this->db());
    EXPECT_EQ(db.rows("SELECT count(*) FROM kv"), std::vector<std::string>{"3"});
    ASSERT_EQ(d.wait_terminal(import(second, {{"table", "kv"}, {"format", "csv"}, {"mode", "replace"}})).value("status", ""),
              "succeeded");
    EXPECT_EQ(db.rows("SELECT k, v FROM kv"), std::vector<std::string>{"3|c"});
}

TEST_F(import_jobs, bad_inputs_are_400_with_pointers_before_anything_is_stored) {
    auto up = d.upload("a\n1\n", "text/csv");
    const auto file = up.member("id");
    auto r = d.submit_with_files("import", {{"table", "x"}, {"format", "ndjson"}}, {{"source", file}});
    expect_problem(r, 400, "invalid-request");
    EXPECT_EQ(r.json()["errors"][0].value("pointer", ""), "/input/columns");
    r = d.submit_with_files("import", {{"table", "drop table x;"}, {"format", "csv"}}, {{"source", file}});
    expect_problem(r, 400, "invalid-request");
    EXPECT_EQ(r.json()["errors"][0].value("pointer", ""), "/input/table");
    r = d.submit_with_files("import", {{"table", "sqlite_master"}, {"format", "csv"}}, {{"source", file}});
    EXPECT_EQ(r.json()["errors"][0].value("pointer", ""), "/input/table");
    r = d.submit_with_files("import", {{"table", "x"}, {"format", "xml"}}, {{"source", file}});
    EXPECT_EQ(r.json()["errors"][0].value("pointer", ""), "/input/format");
    EXPECT_EQ(d.get("/v1/jobs?type=import").json()["jobs"].size(), 0u);
}

TEST_F(import_jobs, a_file_that_does_not_match_an_existing_table_fails_clearly) {
    ASSERT_EQ(d.wait_terminal(import("a,b\n1,2\n", {{"table", "t"}, {"format", "csv"}})).value("status", ""), "succeeded");
    const auto job = d.wait_terminal(import("a,c\n1,2\n", {{"table", "t"}, {"format", "csv"}}));
    ASSERT_EQ(job.value("status", ""), "failed");
    EXPECT_EQ(job["error"].value("code", ""), "import/schema-mismatch");
    EXPECT_NE(job["error"].value("detail", "").find("'c'"), std::string::npos);
}

// The guard against a second import of the same job: the ledger check inside the final
// transaction. Hold the database's write lock so the job waits at that transaction, write
// its ledger entry meanwhile (as a finished earlier attempt would have), then let it go.
TEST_F(import_jobs, an_attempt_whose_rows_are_already_in_imports_nothing) {
    ASSERT_EQ(d.wait_terminal(import("k\n0\n", {{"table", "t"}, {"format", "csv"}})).value("status", ""), "succeeded");
    sqlite_reader db(this->db());
    db.exec("BEGIN IMMEDIATE");
    const auto id = import("k\n1\n2\n", {{"table", "t"}, {"format", "csv"}});
    ASSERT_TRUE(at_final_transaction(id));
    db.exec("INSERT INTO _ticketd_imports VALUES ('" + id + "', 't', 2, '{\"earlier\":true}', 'now')");
    db.exec("COMMIT");
    ASSERT_EQ(d.wait_terminal(id).value("status", ""), "succeeded");
    EXPECT_EQ(result_of(id), (nlohmann::json{{"earlier", true}}));
    EXPECT_EQ(db.rows("SELECT k FROM t"), std::vector<std::string>{"0"});
}

TEST_F(import_jobs, a_cancel_while_waiting_for_the_database_rolls_back) {
    ASSERT_EQ(d.wait_terminal(import("k\n0\n", {{"table", "t"}, {"format", "csv"}})).value("status", ""), "succeeded");
    sqlite_reader db(this->db());
    db.exec("BEGIN IMMEDIATE");
    const auto id = import("k\n1\n2\n", {{"table", "t"}, {"format", "csv"}});
    ASSERT_TRUE(at_final_transaction(id));
    EXPECT_EQ(d.post("/v1/jobs/" + id + "/cancel", "").status, 202u);
    EXPECT_EQ(d.wait_terminal(id).value("status", ""), "canceled");
    db.exec("COMMIT");
    EXPECT_EQ(db.rows("SELECT k FROM t"), std::vector<std::string>{"0"});
    EXPECT_EQ(db.rows("SELECT count(*) FROM _ticketd_imports"), std::vector<std::string>{"1"});
}

// kill -9 while the job waits at its final transaction (the write lock is held): the
// staged rows die with the attempt, the retry stages them again, and they land once.
TEST_F(import_jobs, a_crash_mid_import_retries_and_the_rows_land_exactly_once) {
    std::string csv = "id,name,amount\n";
    const int rows = 20000;
    for (int i = 0; i < rows; ++i) csv += std::to_string(i) + ",\"name " + std::to_string(i) + "\"," + std::to_string(i % 97) + ".25\n";
    ASSERT_EQ(d.wait_terminal(import("id\n-1\n", {{"table", "other"}, {"format", "csv"}})).value("status", ""), "succeeded");
    sqlite_reader db(this->db());
    db.exec("BEGIN IMMEDIATE");
    const auto id = import(csv, {{"table", "big"}, {"format", "csv"}, {"types", {{"id", "integer"}, {"amount", "real"}}}});
    ASSERT_TRUE(at_final_transaction(id));
    d.kill9();
    db.exec("COMMIT");
    d.start();
    const auto job = d.wait_terminal(id, 60s);
    ASSERT_EQ(job.value("status", ""), "succeeded") << job.dump();
    EXPECT_EQ(job.value("attempt", 0), 2);
    EXPECT_EQ(result_of(id).value("rowsImported", 0), rows);
    EXPECT_EQ(db.rows("SELECT count(*), count(DISTINCT id), sum(id) FROM big"),
              std::vector<std::string>{std::to_string(rows) + "|" + std::to_string(rows) + "|" +
                                       std::to_string(int64_t{rows} * (rows - 1) / 2)});
    EXPECT_EQ(db.rows("SELECT count(*) FROM _ticketd_imports WHERE job_id = '" + id + "'"), std::vector<std::string>{"1"});
}

// One bad row costs that row, with its line, never the job: text that is not UTF-8, and
// an NDJSON row nested deeper than 64 levels (refused before any tree of it is built;
// brackets inside strings do not count).
TEST_F(import_jobs, invalid_utf8_and_deep_nesting_reject_only_their_rows) {
    const auto csv = import("name,qty\nalpha,1\nbr\xC3\x28ken,2\ngamma,3\n",
                            {{"table", "names"}, {"format", "csv"}, {"onError", "skip"},
                             {"types", {{"name", "text"}, {"qty", "integer"}}}});
    ASSERT_EQ(d.wait_terminal(csv).value("status", ""), "succeeded");
    auto r = result_of(csv);
    EXPECT_EQ(r.value("rowsImported", 0), 2) << r;
    ASSERT_EQ(r.value("rowsRejected", 0), 1) << r;
    EXPECT_EQ(r["errors"][0].value("line", 0), 3);
    EXPECT_EQ(r["errors"][0].value("reason", ""), "column 'name' is not valid UTF-8");

    const std::string brackets_in_a_string = "{\"sku\": \"" + std::string(100, '[') + "\"}\n";
    const std::string deep = "{\"sku\": " + std::string(70, '[') + std::string(70, ']') + "}\n";
    const auto ndjson = import(brackets_in_a_string + deep + "{\"sku\": \"z\"}\n",
                               {{"table", "skus"}, {"format", "ndjson"}, {"onError", "skip"},
                                {"columns", {{{"name", "sku"}, {"type", "text"}}}}});
    ASSERT_EQ(d.wait_terminal(ndjson).value("status", ""), "succeeded");
    r = result_of(ndjson);
    EXPECT_EQ(r.value("rowsImported", 0), 2) << r;
    ASSERT_EQ(r.value("rowsRejected", 0), 1) << r;
    EXPECT_EQ(r["errors"][0].value("line", 0), 2);
    EXPECT_EQ(r["errors"][0].value("reason", ""), "nested deeper than 64 levels");
}

// A database locked past busyTimeoutMs is a retryable failure: the attempt is rolled back
// whole, and the next one, once the lock is gone, imports every row once.
TEST_F(import_jobs, a_database_locked_too_long_is_retried_and_imports_once) {
    ASSERT_EQ(d.wait_terminal(import("k\n0\n", {{"table", "t"}, {"format", "csv"}})).value("status", ""), "succeeded");
    sqlite_reader db(this->db());
    db.exec("BEGIN IMMEDIATE");
    auto up = d.upload("k\n1\n2\n", "text/csv");
    const auto r = d.submit_with_files("import_quick", {{"table", "t"}, {"format", "csv"}}, {{"source", up.member("id")}});
    ASSERT_EQ(r.status, 202u) << r.body;
    const std::string id = r.json().value("id", "");
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + id).json().value("attempt", 0) >= 2; }, 30s));
    db.exec("COMMIT");
    const auto job = d.wait_terminal(id, 60s);
    ASSERT_EQ(job.value("status", ""), "succeeded") << job.dump();
    EXPECT_EQ(job["attempts"][0]["error"]["code"], "import_quick/database-busy") << job.dump();
    EXPECT_EQ(db.rows("SELECT k FROM t ORDER BY k"), (std::vector<std::string>{"0", "1", "2"}));
}
