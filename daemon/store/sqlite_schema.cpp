#include "store/sqlite_schema.hpp"

#include "store/sqlite_db.hpp"
#include "system/log.hpp"

#include <chrono>
#include <cstring>
#include <string>

namespace ticketd {

namespace {

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- accept order, never reused: list order
    id TEXT NOT NULL,  -- no index: an id leads to its seq (store/job_ids.hpp; schema 6)
    type TEXT NOT NULL,
    principal TEXT NOT NULL,
    idempotency_key TEXT,
    fingerprint TEXT,
    status TEXT NOT NULL,
    cancel_requested INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    timeout_ms INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    updated_at INTEGER NOT NULL,
    finished_at INTEGER,
    expires_at INTEGER,
    not_before INTEGER,
    progress_percent REAL,
    progress_message TEXT,
    input TEXT NOT NULL,
    labels TEXT NOT NULL,
    error TEXT,
    result_type TEXT,
    result_size INTEGER,
    version INTEGER NOT NULL,
    files TEXT NOT NULL DEFAULT '{}',  -- name -> upload id (schema 2)
    result_name TEXT,                  -- the result's file name (schema 2)
    -- result_inline: the result is in `results`, not a file (schema 3); attempts: the
    -- earlier attempts that were retried, a JSON array; first_attempt: the first attempt
    -- of the job's latest run (a re-run starts a new one) (both schema 8). (No comment
    -- between or after these: SQLite's DROP COLUMN could not edit the table's SQL.)
    result_inline INTEGER NOT NULL DEFAULT 0,
    attempts TEXT,
    first_attempt INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS jobs_by_principal ON jobs(principal, seq DESC);
CREATE INDEX IF NOT EXISTS jobs_unfinished ON jobs(status) WHERE status IN ('queued','running','scheduled');
CREATE INDEX IF NOT EXISTS jobs_by_expiry ON jobs(expires_at) WHERE expires_at IS NOT NULL;
-- Key bindings by the bound job's seq (schema 6; before, a B-tree keyed by (principal,
-- key), whose random keys cost as much as the id index): the engine keeps every live key
-- in memory with its seq, so the store never looks one up by the key itself.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    seq INTEGER PRIMARY KEY,
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    job_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    job_deleted INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL
);
-- Ids made before schema 6 (random, they do not lead to their seq) and the seq of each.
CREATE TABLE IF NOT EXISTS legacy_job_ids (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
) WITHOUT ROWID;
-- The AES-128 key job ids are made with (schema 6; store/job_ids.hpp).
CREATE TABLE IF NOT EXISTS job_id_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS tombstones (
    job_id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    deleted_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    principal TEXT NOT NULL DEFAULT 'anonymous'  -- whose job it was (schema 7)
);
-- Small results, committed with the job's terminal state (no file, no extra fsync).
-- Keyed by the job's seq (schema 4; before, by its random id): inserts append.
CREATE TABLE IF NOT EXISTS results (
    seq INTEGER PRIMARY KEY,
    body BLOB NOT NULL
);
-- How far the journal has been applied (schema 5): records after this position are
-- applied at startup (see journal.hpp).
CREATE TABLE IF NOT EXISTS journal_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    applied INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
)sql";

// Schema 1 (the first release) had no uploads: add what schema 2 needs.
constexpr const char* migrate_1_to_2 = R"sql(
ALTER TABLE jobs ADD COLUMN files TEXT NOT NULL DEFAULT '{}';
ALTER TABLE jobs ADD COLUMN result_name TEXT;
)sql";
constexpr const char* migrate_2_to_3 = R"sql(
ALTER TABLE jobs ADD COLUMN result_inline INTEGER NOT NULL DEFAULT 0;
)sql";
// Schema 4: results are keyed by the job's seq (see docs/performance.md). The old table is
// renamed, `schema` creates the new one, then the rows are copied over.
constexpr const char* migrate_results_3_to_4_before = R"sql(
ALTER TABLE results RENAME TO results_v3;
)sql";
constexpr const char* migrate_results_3_to_4_after = R"sql(
INSERT INTO results SELECT j.seq, r.body FROM results_v3 r JOIN jobs j ON j.id = r.job_id;
DROP TABLE results_v3;
)sql";
// Schema 6: the jobs table loses its index on id (a random B-tree: the store's cost per
// job grew with its size). The table is renamed, `schema` creates the new one, the rows
// are copied, and the ids made until now are listed in legacy_job_ids (they do not lead
// to their seq). The seq counter carries over, so no seq is ever given twice.
constexpr const char* migrate_jobs_to_6_before = R"sql(
ALTER TABLE jobs RENAME TO jobs_v5;
DROP INDEX IF EXISTS jobs_by_principal;
DROP INDEX IF EXISTS jobs_unfinished;
DROP INDEX IF EXISTS jobs_by_expiry;
)sql";
constexpr const char* migrate_jobs_to_6_after = R"sql(
INSERT INTO jobs (seq, id, type, principal, idempotency_key, fingerprint, status, cancel_requested, attempt,
                  priority, timeout_ms, created_at, started_at, updated_at, finished_at, expires_at, not_before,
                  progress_percent, progress_message, input, labels, error, result_type, result_size, version,
                  files, result_name, result_inline)
    SELECT seq, id, type, principal, idempotency_key, fingerprint, status, cancel_requested, attempt,
           priority, timeout_ms, created_at, started_at, updated_at, finished_at, expires_at, not_before,
           progress_percent, progress_message, input, labels, error, result_type, result_size, version,
           files, result_name, result_inline
    FROM jobs_v5;
INSERT INTO legacy_job_ids (id, seq) SELECT id, seq FROM jobs_v5 ORDER BY id;  -- appends
DELETE FROM sqlite_sequence WHERE name = 'jobs';
UPDATE sqlite_sequence SET name = 'jobs' WHERE name = 'jobs_v5';
DROP TABLE jobs_v5;
)sql";
// The key bindings (up to schema 5 keyed by (principal, key); schema 3 and older also had
// a by-job index) move to rows numbered by their job's seq; a binding whose job is gone
// gets a negative number of its own.
constexpr const char* migrate_keys_to_6_before = R"sql(
ALTER TABLE idempotency_keys RENAME TO idempotency_keys_v5;
DROP INDEX IF EXISTS keys_by_job;
)sql";
constexpr const char* migrate_keys_to_6_after = R"sql(
INSERT INTO idempotency_keys (seq, principal, key, job_id, fingerprint, job_deleted, expires_at)
    SELECT coalesce(l.seq, -row_number() OVER ()), k.principal, k.key, k.job_id, k.fingerprint, k.job_deleted,
           k.expires_at
    FROM idempotency_keys_v5 k LEFT JOIN legacy_job_ids l ON l.id = k.job_id
    ORDER BY 1;  -- appends
DROP TABLE idempotency_keys_v5;
)sql";
// Schema 7: a tombstone says whose job it was (another principal must get 404, not 410).
constexpr const char* migrate_tombstones_to_7 = R"sql(
ALTER TABLE tombstones ADD COLUMN principal TEXT NOT NULL DEFAULT 'anonymous';
)sql";
// Schema 8: a job keeps its earlier attempts (retries) and its run's first attempt
// (re-runs). Before 6 the jobs table is made anew, with the columns. Its index of
// unfinished jobs also holds scheduled ones (dropped before `schema` makes it anew).
constexpr const char* migrate_jobs_6_to_8 = R"sql(
ALTER TABLE jobs ADD COLUMN attempts TEXT;
ALTER TABLE jobs ADD COLUMN first_attempt INTEGER NOT NULL DEFAULT 1;
)sql";
constexpr int schema_version = 8;  // 5: journal_state; 6: ids lead to their seq; 7, 8: see above

// job_seq(id) in SQL: the seq inside a job id (NULL unless 32 hex digits).
void job_seq_function(sqlite3_context* context, int, sqlite3_value** args) {
    const auto* ids = static_cast<const job_ids*>(sqlite3_user_data(context));
    std::optional<int64_t> seq;
    if (sqlite3_value_type(args[0]) == SQLITE_TEXT) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(args[0]));
        seq = ids->seq_of(std::string_view(text, static_cast<size_t>(sqlite3_value_bytes(args[0]))));
    }
    if (seq) sqlite3_result_int64(context, *seq);
    else sqlite3_result_null(context);
}

}  // namespace

job_ids::key migrate_schema(sqlite_connection& db) {
    int version = 0;
    {
        sqlite_statement s(db.handle(), "PRAGMA user_version");
        if (s.step()) version = static_cast<int>(s.int64(0));
    }
    if (version > schema_version) {
        throw sqlite_error("the database has schema version " + std::to_string(version) +
                           ", newer than this ticketd (" + std::to_string(schema_version) +
                           "); fix: run the newer ticketd or restore a backup");
    }
    const auto started = std::chrono::steady_clock::now();
    if (version >= 1 && version < schema_version) {
        log_info("store: migrating the database from schema " + std::to_string(version) + " to " +
                 std::to_string(schema_version) + " (one transaction; about 15 s per million jobs)");
    }
    db.exec("BEGIN IMMEDIATE");
    if (version == 1) db.exec(migrate_1_to_2);
    if (version >= 1 && version < 3) db.exec(migrate_2_to_3);
    if (version == 3) db.exec(migrate_results_3_to_4_before);
    if (version >= 1 && version < 6) {
        db.exec(migrate_jobs_to_6_before);
        db.exec(migrate_keys_to_6_before);
    }
    if (version >= 1 && version < 8) db.exec("DROP INDEX IF EXISTS jobs_unfinished");
    db.exec(schema);
    if (version >= 1 && version < 6) {
        db.exec(migrate_jobs_to_6_after);
        db.exec(migrate_keys_to_6_after);
    }
    if (version == 3) db.exec(migrate_results_3_to_4_after);
    if (version >= 1 && version < 7) db.exec(migrate_tombstones_to_7);
    if (version >= 6 && version < 8) db.exec(migrate_jobs_6_to_8);
    job_ids::key key{};
    {
        sqlite_statement s(db.handle(), "SELECT key FROM job_id_key WHERE id=1");
        if (s.step()) {
            const std::string stored = s.blob(0);
            if (stored.size() != key.size()) {
                throw sqlite_error("the job id key in the database has " + std::to_string(stored.size()) +
                                   " bytes, expected 16; fix: restore the database from a backup");
            }
            std::memcpy(key.data(), stored.data(), key.size());
        } else {
            key = job_ids::new_key();
            sqlite_statement insert(db.handle(), "INSERT INTO job_id_key (id, key) VALUES (1, ?1)");
            insert.bind_blob(1, std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
            insert.run();
        }
    }
    db.exec(("PRAGMA user_version = " + std::to_string(schema_version)).c_str());
    db.exec("COMMIT");
    if (version >= 1 && version < schema_version) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        log_info("store: migrated to schema " + std::to_string(schema_version) + " in " + std::to_string(ms.count()) + " ms");
    }
    return key;
}

std::optional<size_t> migration_size(const std::filesystem::path& db_file) {
    std::error_code ec;
    if (!std::filesystem::exists(db_file, ec)) return std::nullopt;
    try {
        sqlite_connection db(db_file, true);
        sqlite_statement version(db.handle(), "PRAGMA user_version");
        if (!version.step() || version.int64(0) < 1 || version.int64(0) >= schema_version) return std::nullopt;
        sqlite_statement count(db.handle(), "SELECT count(*) FROM jobs");
        return count.step() ? static_cast<size_t>(count.int64(0)) : size_t{0};
    } catch (const std::exception&) {
        return std::nullopt;  // opening it for real says what is wrong
    }
}

void add_job_seq_function(sqlite_connection& db, const job_ids& ids) {
    if (sqlite3_create_function_v2(db.handle(), "job_seq", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                   const_cast<job_ids*>(&ids), job_seq_function, nullptr, nullptr,
                                   nullptr) != SQLITE_OK) {
        throw sqlite_error(std::string("cannot add job_seq() to SQLite: ") + sqlite3_errmsg(db.handle()));
    }
}

}  // namespace ticketd
