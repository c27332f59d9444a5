// The bundled `report` job type through the real daemon, on a SQLite database the test
// seeds (and, end to end, one that `import` fills): the three formats, parameters,
// validation at submit, the read-only check of ad-hoc SQL, cancel and timeout.
#include "support/daemon_test.hpp"
#include "support/sqlite_reader.hpp"

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {

const char* report_settings =
    "settings:\n"
    "  database: \"${state_dir}/warehouse.db\"\n"
    "  busyTimeoutMs: 60000\n"
    "  reports:\n"
    "    by-region:\n"
    "      title: Sales <by> region\n"
    "      sql: SELECT region, sum(units) AS units, sum(amount) AS revenue FROM sales WHERE day >= :from GROUP BY region ORDER BY region\n"
    "      parameters:\n"
    "        from: {type: date, required: true}\n"
    "        minimum: {type: integer}\n"
    "      columns:\n"
    "        revenue: {label: Revenue, format: number, decimals: 2, prefix: \"$\"}\n"
    "        units: {format: integer}\n"
    "    forever:\n"
    "      title: A query that never ends\n"
    "      sql: WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c\n";

daemon_config_text report_config() {
    daemon_config_text c;
    // Time for the plugin to interrupt its query before the daemon would finish without it.
    c.jobs = "  cancel_grace: 5s\n  drain_timeout: 5s\n";
    c.job_types["report.yaml"] = std::string("type: report\nplugin: @PLUGINS@/report.so\nworkers: 2\nmax_attempts: 1\n") +
                                 report_settings;
    c.job_types["adhoc.yaml"] = "type: adhoc\nplugin: @PLUGINS@/report.so\nworkers: 1\nsettings:\n"
                                "  database: \"${state_dir}/warehouse.db\"\n  allowAdHocSql: true\n"
                                "  maxValueBytes: 1048576\n";
    c.job_types["import.yaml"] = "type: import\nplugin: @PLUGINS@/import.so\nsettings:\n"
                                 "  database: \"${state_dir}/warehouse.db\"\n";
    return c;
}

class report_jobs : public daemon_test_with<report_config> {
   protected:
    void SetUp() override {
        daemon_test::SetUp();
        sqlite_reader db((d.dir() / "state" / "warehouse.db").string());
        db.exec("CREATE TABLE sales (region TEXT, units INTEGER, amount REAL, day TEXT);"
                "INSERT INTO sales VALUES ('north', 2, 1000.5, '2026-01-01'), ('north', 3, 250.25, '2026-02-01'),"
                "('south, \"far\"', 1, 99.99, '2026-02-02'), ('<script>', 4, 0.01, '2026-03-01'),"
                "('old', 9, 9.0, '2025-01-01');");
    }
    http_result finished(const std::string& type, const nlohmann::json& input) {
        auto r = d.submit(type, input);
        EXPECT_EQ(r.status, 202u) << r.body;
        const auto id = r.json().value("id", "");
        const auto job = d.wait_terminal(id);
        EXPECT_EQ(job.value("status", ""), "succeeded") << job.dump();
        return d.get("/v1/jobs/" + id + "/result");
    }
};

}  // namespace

TEST_F(report_jobs, csv_has_the_rows_with_rfc4180_quoting_and_a_file_name) {
    auto r = finished("report", {{"report", "by-region"}, {"parameters", {{"from", "2026-01-01"}}}, {"format", "csv"}});
    ASSERT_EQ(r.status, 200u);
    EXPECT_EQ(r.header("Content-Type").value_or(""), "text/csv; charset=utf-8");
    EXPECT_EQ(r.body,
              "region,units,revenue\r\n<script>,4,0.01\r\nnorth,5,1250.75\r\n\"south, \"\"far\"\"\",1,99.99\r\n");
    const auto disposition = r.header("Content-Disposition").value_or("");
    EXPECT_EQ(disposition.rfind("attachment; filename=\"by-region-2", 0), 0u) << disposition;
    EXPECT_NE(disposition.find(".csv\""), std::string::npos) << disposition;
}

TEST_F(report_jobs, json_carries_parameters_rows_and_totals) {
    auto r = finished("report", {{"report", "by-region"}, {"parameters", {{"from", "2026-02-01"}}}, {"format", "json"}});
    ASSERT_EQ(r.status, 200u);
    EXPECT_EQ(r.header("Content-Type").value_or(""), "application/json");
    const auto doc = r.json();
    EXPECT_EQ(doc["parameters"], (nlohmann::json{{"from", "2026-02-01"}, {"minimum", nullptr}}));
    EXPECT_EQ(doc.value("rowCount", 0), 3);
    EXPECT_EQ(doc["rows"][1], (nlohmann::json{{"region", "north"}, {"units", 3}, {"revenue", 250.25}}));
    EXPECT_EQ(doc["totals"]["units"], 8);
    EXPECT_NEAR(doc["totals"]["revenue"].get<double>(), 350.25, 1e-9);
    EXPECT_FALSE(doc["totals"].contains("region"));
    EXPECT_EQ(doc["columns"][2], (nlohmann::json{{"name", "revenue"}, {"label", "Revenue"}}));
}

TEST_F(report_jobs, html_is_a_readable_page_with_formats_totals_and_escaping) {
    auto r = finished("report", {{"report", "by-region"}, {"parameters", {{"from", "2025-01-01"}}}, {"format", "html"}});
    ASSERT_EQ(r.status, 200u);
    EXPECT_EQ(r.header("Content-Type").value_or(""), "text/html; charset=utf-8");
    const std::string& page = r.body;
    EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
    EXPECT_NE(page.find("<title>Sales &lt;by&gt; region</title>"), std::string::npos);
    EXPECT_NE(page.find("<dt>from</dt><dd>2025-01-01</dd>"), std::string::npos);
    EXPECT_NE(page.find("<dt>Generated</dt>"), std::string::npos);
    EXPECT_NE(page.find("<td>&lt;script&gt;</td>"), std::string::npos);
    EXPECT_EQ(page.find("<script>"), std::string::npos) << "data must be escaped";
    EXPECT_NE(page.find("<td class=\"num\">$1,250.75</td>"), std::string::npos) << page;
    EXPECT_NE(page.find("<tfoot><tr><th scope=\"row\">Total</th><td class=\"num\">19</td><td class=\"num\">$1,359.75</td>"),
              std::string::npos)
        << page;
    EXPECT_NE(page.find("<style>"), std::string::npos);  // self-contained: no external links
    EXPECT_EQ(page.find("<link"), std::string::npos);
    EXPECT_NE(page.find("4 rows"), std::string::npos);
}

TEST_F(report_jobs, bad_inputs_are_400_with_pointers) {
    auto r = d.submit("report", {{"report", "nope"}});
    expect_problem(r, 400, "invalid-request");
    EXPECT_EQ(r.json()["errors"][0].value("pointer", ""), "/input/report");
    r = d.submit("report", {{"report", "by-region"}});
    EXPECT_EQ(r.json()["errors"][0].value("pointer", ""), "/input/parameters/from");
    r = d.submit("report", {{"report", "by-region"}, {"parameters", {{"from", "2026-02-30"}}}});
    EXPECT_EQ(r.json()["errors"][0].value("pointer", ""), "/input/parameters/from");
    r = d.submit("report", {{"report", "by-region"}, {"parameters", {{"from", "2026-01-01"}, {"bogus", 1}}}});
    EXPECT_EQ(r.json()["errors"][0].value("pointer", ""), "/input/parameters/bogus");
    r = d.submit("report", {{"sql", "SELECT 1"}});
    EXPECT_EQ(r.json()["errors"][0].value("pointer", ""), "/input/sql");
    r = d.submit("report", {{"report", "by-region"}, {"format", "pdf"}});
    EXPECT_EQ(r.json()["errors"][0].value("pointer", ""), "/input/format");
    EXPECT_EQ(d.get("/v1/jobs?type=report").json()["jobs"].size(), 0u);
}

TEST_F(report_jobs, ad_hoc_sql_must_be_one_read_only_statement_as_sqlite_sees_it) {
    for (const std::string bad : {"DELETE FROM sales", "SELECT 1; DROP TABLE sales", "UPDATE sales SET units = 0",
                                  "ATTACH DATABASE '/tmp/x.db' AS x", "PRAGMA writable_schema = 1",
                                  "SELECT * FROM no_such_table", "SELECT :p"}) {
        auto r = d.submit("adhoc", {{"sql", bad}});
        expect_problem(r, 400, "invalid-request");
        EXPECT_EQ(r.json()["errors"][0].value("pointer", ""), "/input/sql") << bad;
    }
    // Not fooled by what string matching would trip on.
    auto r = finished("adhoc", {{"sql", "  /* delete */ SELECT 'DROP TABLE x; --' AS s, count(*) AS n FROM sales; -- done"},
                                {"format", "csv"}});
    EXPECT_EQ(r.body, "s,n\r\nDROP TABLE x; --,5\r\n");
    sqlite_reader db((d.dir() / "state" / "warehouse.db").string());
    EXPECT_EQ(db.rows("SELECT count(*) FROM sales"), std::vector<std::string>{"5"});
}

TEST_F(report_jobs, a_long_query_reports_progress_and_stops_on_cancel) {
    auto r = d.submit("report", {{"report", "forever"}});
    const auto id = r.json().value("id", "");
    ASSERT_TRUE(eventually([&] {
        const auto j = d.get("/v1/jobs/" + id + "?redirect=false").json();
        return j.contains("progress") && j["progress"].value("message", "").find("running the query (") == 0;
    }, 20s));
    EXPECT_EQ(d.post("/v1/jobs/" + id + "/cancel", "").status, 202u);
    const auto job = d.wait_terminal(id, 20s);
    EXPECT_EQ(job.value("status", ""), "canceled");
    EXPECT_EQ(d.log().find("ignored the stop request"), std::string::npos);
}

TEST_F(report_jobs, a_long_query_is_interrupted_at_its_timeout) {
    auto r = d.post("/v1/jobs", nlohmann::json{{"type", "report"}, {"input", {{"report", "forever"}}}, {"timeoutSeconds", 1}}.dump());
    const auto job = d.wait_terminal(r.json().value("id", ""), 20s);
    EXPECT_EQ(job.value("status", ""), "failed");
    EXPECT_EQ(job["error"].value("code", ""), "job-timeout");
    EXPECT_EQ(d.log().find("ignored the stop request"), std::string::npos);
}

TEST_F(report_jobs, reports_what_an_import_loaded) {
    auto up = d.upload("region,units,amount,day\nwest,7,70.5,2026-05-01\nwest,1,0.5,2026-05-02\n", "text/csv");
    auto imp = d.submit_with_files("import", {{"table", "sales"}, {"format", "csv"},
                                              {"types", {{"units", "integer"}, {"amount", "real"}}}},
                                   {{"source", up.member("id")}});
    ASSERT_EQ(d.wait_terminal(imp.json().value("id", "")).value("status", ""), "succeeded");
    auto r = finished("report", {{"report", "by-region"}, {"parameters", {{"from", "2026-05-01"}}}});
    EXPECT_EQ(r.body, "region,units,revenue\r\nwest,8,71\r\n");
}

// Ad-hoc SQL is the client's: it may not read ticketd's bookkeeping tables (in any case)
// or the pragma_* functions, and a value it builds is bounded by maxValueBytes, so a
// giant randomblob or hex fails the job instead of taking the daemon's memory.
TEST_F(report_jobs, ad_hoc_sql_cannot_read_bookkeeping_or_build_giant_values) {
    sqlite_reader db((d.dir() / "state" / "warehouse.db").string());
    db.exec("CREATE TABLE _ticketd_imports (job_id TEXT, secret TEXT); INSERT INTO _ticketd_imports VALUES ('j', 's');");
    for (const std::string bad : {"SELECT * FROM pragma_database_list", "SELECT name FROM pragma_table_info('sales')",
                                  "SELECT count(*) FROM _ticketd_imports", "SELECT secret FROM _TICKETD_IMPORTS",
                                  "SELECT 1 WHERE EXISTS (SELECT 1 FROM main._ticketd_imports)"}) {
        auto r = d.submit("adhoc", {{"sql", bad}});
        expect_problem(r, 400, "invalid-request");
        EXPECT_TRUE(r.body.find("not authorized") != std::string::npos || r.body.find("prohibited") != std::string::npos)
            << bad << ": " << r.body;
    }
    // (A group_concat past the limit fails the same way, but under ASan its reallocations
    // take minutes.)
    for (const std::string giant : {"SELECT length(randomblob(100000000)) AS n",
                                    "SELECT length(hex(randomblob(600000))) AS n"}) {
        auto r = d.submit("adhoc", {{"sql", giant}});
        ASSERT_EQ(r.status, 202u) << r.body;
        const auto job = d.wait_terminal(r.json().value("id", ""), 60s);
        EXPECT_EQ(job.value("status", ""), "failed") << giant;
        EXPECT_EQ(job["error"].value("code", ""), "adhoc/value-too-big") << job.dump();
    }
    EXPECT_EQ(finished("adhoc", {{"sql", "SELECT length(randomblob(1000000)) AS n"}}).body, "n\r\n1000000\r\n");  // under 1 MiB
    EXPECT_EQ(d.get("/healthz").status, 200u);
}
