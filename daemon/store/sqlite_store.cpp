#include "store/sqlite_store.hpp"
#include "system/threads.hpp"

#include "store/sqlite_db.hpp"
#include "system/log.hpp"
#include "system/json_text.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <iterator>
#include <type_traits>

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
    result_inline INTEGER NOT NULL DEFAULT 0  -- the result is in `results`, not a file (schema 3)
);
CREATE INDEX IF NOT EXISTS jobs_by_principal ON jobs(principal, seq DESC);
CREATE INDEX IF NOT EXISTS jobs_unfinished ON jobs(status) WHERE status IN ('queued', 'running');
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
    expires_at INTEGER NOT NULL
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
constexpr int schema_version = 6;  // 5: journal_state; 6: ids lead to their seq (see above)

// The condition that finds the row of the job whose id is ?1 by its rowid: an id made
// before schema 6 through legacy_job_ids, any other by the seq inside it (job_seq(), the
// job_ids decoder registered on each connection); then the whole id must match.
const std::string row_of_id1 = "seq=coalesce((SELECT seq FROM legacy_job_ids WHERE id=?1), job_seq(?1)) AND id=?1";

constexpr const char* job_columns =
    "id, type, principal, idempotency_key, status, cancel_requested, attempt, "
    "priority, timeout_ms, created_at, started_at, updated_at, finished_at, expires_at, "
    "not_before, progress_percent, progress_message, input, labels, error, result_type, "
    "result_size, version, seq, files, result_name, result_inline";

job_record read_job(const sqlite_statement& s) {
    job_record j;
    j.id = s.text(0);
    j.type = s.text(1);
    j.principal = s.text(2);
    j.idempotency_key = s.text(3);
    j.status = parse_job_status(s.text(4)).value_or(job_status::failed);
    j.cancel_requested = s.int64(5) != 0;
    j.attempt = static_cast<uint32_t>(s.int64(6));
    j.priority = static_cast<int32_t>(s.int64(7));
    j.timeout_ms = s.int64(8);
    j.created_at = s.int64(9);
    j.started_at = s.int64(10);
    j.updated_at = s.int64(11);
    j.finished_at = s.int64(12);
    j.expires_at = s.int64(13);
    j.not_before = s.int64(14);
    if (!s.is_null(15)) j.progress_percent = s.real(15);
    j.progress_message = s.text(16);
    j.input = s.text(17);  // as the engine wrote it: compact JSON
    j.labels = s.text(18);
    if (!s.is_null(19)) {
        auto e = nlohmann::json::parse(s.text(19), nullptr, false);
        if (e.is_object()) {
            j.error = std::make_shared<const job_error>(
                job_error{e.value("code", ""), e.value("title", ""), e.value("detail", "")});
        }
    }
    j.result_type = s.text(20);
    j.result_size = static_cast<uint64_t>(s.int64(21));
    j.version = static_cast<uint64_t>(s.int64(22));
    j.seq = s.int64(23);
    if (const std::string files = s.text(24); files != "{}") {
        try {
            j.files = parse_files_json(files);
        } catch (const std::runtime_error&) {  // a row edited by hand: the job reads no files
        }
    }
    j.result_name = s.text(25);
    j.result_inline = s.int64(26) != 0;
    return j;
}

std::string error_json(const job_error& e) {
    return json_text(nlohmann::json{{"code", e.code}, {"title", e.title}, {"detail", e.detail}});
}

// A job's state: every column that changes after the insert, in the order the
// statements below bind them (type, principal, key, input, labels, files, priority and
// timeout never change: state updates do not render the JSON texts again).
constexpr const char* state_columns[] = {
    "status", "cancel_requested", "attempt", "started_at", "updated_at", "finished_at", "expires_at",
    "not_before", "progress_percent", "progress_message", "error", "result_type", "result_size", "version",
    "result_name", "result_inline"};
constexpr int state_column_count = static_cast<int>(std::size(state_columns));

// Binds the state columns to parameters first, first + 1, ...
void bind_state(sqlite_statement& s, const job_record& j, int first) {
    s.bind(first, to_string(j.status))
        .bind(first + 1, int64_t{j.cancel_requested})
        .bind(first + 2, int64_t{j.attempt})
        .bind_optional(first + 3, j.started_at)
        .bind(first + 4, j.updated_at)
        .bind_optional(first + 5, j.finished_at)
        .bind_optional(first + 6, j.expires_at)
        .bind_optional(first + 7, j.not_before);
    if (j.progress_percent) s.bind(first + 8, *j.progress_percent);
    else s.bind_null(first + 8);
    s.bind_ref(first + 9, j.progress_message);
    if (j.error) s.bind(first + 10, error_json(*j.error));
    else s.bind_null(first + 10);
    s.bind_ref(first + 11, j.result_type)
        .bind(first + 12, static_cast<int64_t>(j.result_size))
        .bind(first + 13, static_cast<int64_t>(j.version));
    if (j.result_name.empty()) s.bind_null(first + 14);
    else s.bind_ref(first + 14, j.result_name);
    s.bind(first + 15, int64_t{j.result_inline});
    static_assert(state_column_count == 16, "bind every state column");
}

// Static storage: cached() keys statements by the address of their SQL text.
const std::string insert_sql = [] {
    std::string sql = "INSERT INTO jobs (id, type, principal, idempotency_key, fingerprint, priority, timeout_ms, "
                      "created_at, input, labels, files";
    for (const char* c : state_columns) sql += std::string(", ") + c;
    sql += ", seq) VALUES (?1";
    for (int i = 2; i <= 12 + state_column_count; ++i) sql += ",?" + std::to_string(i);
    return sql + ")";
}();
const std::string update_sql = [] {
    std::string sql = "UPDATE jobs SET ";
    for (int i = 0; i < state_column_count; ++i) {
        sql += std::string(i ? ", " : "") + state_columns[i] + "=?" + std::to_string(i + 2);
    }
    return sql + " WHERE " + row_of_id1;
}();

// The job's row: what never changes from `created`, its state from `state` (the same
// record, or a later one when the applier merged the job's writes); with a key, the
// request's fingerprint comes from its binding. The strings are the write's own, bound
// without a copy.
void insert_job(sqlite_connection& db, const job_record& created, const job_record& state,
                const std::optional<idempotency_binding>& key) {
    auto& s = db.cached(insert_sql.c_str());
    s.bind_ref(1, created.id).bind_ref(2, created.type).bind_ref(3, created.principal);
    if (key) s.bind_ref(4, key->key).bind_ref(5, key->fingerprint);
    else s.bind_null(4).bind_null(5);
    s.bind(6, int64_t{created.priority}).bind(7, created.timeout_ms).bind(8, created.created_at);
    s.bind_ref(9, created.input).bind_ref(10, created.labels);
    s.bind(11, created.files.empty() ? std::string("{}") : files_json(created.files));
    bind_state(s, state, 12);
    s.bind_optional(12 + state_column_count, created.seq);  // 0: written before schema 6, SQLite numbers it
    s.run();
    const int64_t seq = created.seq != 0 ? created.seq : sqlite3_last_insert_rowid(db.handle());
    if (created.seq == 0) {
        db.cached("INSERT INTO legacy_job_ids (id, seq) VALUES (?1, ?2)").bind(1, created.id).bind(2, seq).run();
    }
    if (key) {
        auto& k = db.cached(
            "INSERT OR REPLACE INTO idempotency_keys (seq, principal, key, job_id, "
            "fingerprint, job_deleted, expires_at) VALUES (?1,?2,?3,?4,?5,0,?6)");
        k.bind(1, seq).bind_ref(2, key->principal).bind_ref(3, key->key).bind_ref(4, key->job_id)
            .bind_ref(5, key->fingerprint).bind(6, key->expires_at);
        k.run();
    }
}

// An update whose job has no row (removed or purged before it was applied): nothing of
// the job is left to lose, so the write is dropped, unlike any other failure.
class no_such_row : public sqlite_error {
   public:
    using sqlite_error::sqlite_error;
};

// Replaces a stored job's state (on the writer thread).
void apply_update(sqlite_connection& db, const job_record& j) {
    auto& s = db.cached(update_sql.c_str());
    s.bind(1, j.id);
    bind_state(s, j, 2);
    s.run();
    if (db.changes() != 1) throw no_such_row("update: no job " + j.id);
}

const std::string find_seq_sql = "SELECT seq FROM jobs WHERE " + row_of_id1;
const std::string seq_of_id1 = "(" + find_seq_sql + ")";
const std::string find_sql = std::string("SELECT ") + job_columns + " FROM jobs WHERE " + row_of_id1;
const std::string store_result_sql = "INSERT OR REPLACE INTO results (seq, body) VALUES (" + seq_of_id1 + ", ?2)";
const std::string read_result_sql = "SELECT body FROM results WHERE seq=" + seq_of_id1;
// Expired key bindings whose job is gone.
const char* const expired_keys_sql =
    "SELECT seq, principal, key, job_id FROM idempotency_keys k WHERE expires_at <= ?1 "
    "AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.seq = k.seq AND j.id = k.job_id) "
    "AND NOT EXISTS (SELECT 1 FROM tombstones t WHERE t.job_id = k.job_id) "
    "LIMIT 5000";

void store_result(sqlite_connection& db, const job_record& job, const std::string& body) {
    if (job.seq == 0) {  // journaled before schema 6: find the row's seq by the id
        db.cached(store_result_sql.c_str()).bind(1, job.id).bind_blob_ref(2, body).run();
    } else {
        db.cached("INSERT OR REPLACE INTO results (seq, body) VALUES (?1, ?2)")
            .bind(1, job.seq)
            .bind_blob_ref(2, body)
            .run();
    }
}

// A job's rows go (its result, its row, its old id's listing) and a tombstone stays: a
// removal and a purge alike. `seq` is 0 when the row is gone already.
void forget_job(sqlite_connection& db, int64_t seq, const tombstone& t) {
    if (seq != 0) {
        db.cached("DELETE FROM results WHERE seq=?1").bind(1, seq).run();
        db.cached("DELETE FROM jobs WHERE seq=?1").bind(1, seq).run();
    }
    db.cached("DELETE FROM legacy_job_ids WHERE id=?1").bind(1, t.job_id).run();
    auto& s = db.cached("INSERT OR REPLACE INTO tombstones (job_id, type, deleted_at, expires_at) VALUES (?1,?2,?3,?4)");
    s.bind(1, t.job_id).bind(2, t.type).bind(3, t.deleted_at).bind(4, t.expires_at);
    s.run();
}

// A removal also marks the job's key binding (the row numbered by the job's seq) deleted.
void apply_removal(sqlite_connection& db, const tombstone& t) {
    auto& find = db.cached(find_seq_sql.c_str());
    find.bind(1, t.job_id);
    const int64_t seq = find.step() ? find.int64(0) : 0;
    find.release();
    if (seq != 0) {
        db.cached("UPDATE idempotency_keys SET job_deleted=1 WHERE seq=?1 AND job_id=?2")
            .bind(1, seq)
            .bind(2, t.job_id)
            .run();
    }
    forget_job(db, seq, t);
}

// Several journaled writes to one job, applied as one: the first says whether the row is
// new (and holds what never changes), the last holds the state, `result` the latest
// result among them.
struct merged_write {
    const job_write* first;
    const job_record* state;
    const std::string* result;
};

void apply_merged(sqlite_connection& db, const merged_write& m) {
    switch (m.first->what) {
        case job_write::kind::insert: insert_job(db, m.first->job, *m.state, m.first->key); break;
        case job_write::kind::update: apply_update(db, *m.state); break;
        case job_write::kind::remove: apply_removal(db, m.first->removal); return;
    }
    if (m.result) store_result(db, *m.state, *m.result);
}

job_write update_of(const job_record& job, std::optional<std::string> result = std::nullopt) {
    job_write w;
    w.what = job_write::kind::update;
    w.job = job;
    w.result = std::move(result);
    return w;
}


constexpr size_t max_apply_batch = 20000;        // writes per applier transaction
constexpr auto apply_delay = std::chrono::milliseconds(50);  // the most a write waits to be applied
constexpr size_t max_unapplied_writes = 100000;  // beyond: new writes wait for the applier
constexpr auto journal_trouble_window = std::chrono::seconds(10);  // see sqlite_store::trouble()

}  // namespace

namespace {
// Brings the database to schema_version; returns the key job ids are made with (a new
// one for a new database).
job_ids::key migrate(sqlite_connection& db) {
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
    db.exec(schema);
    if (version >= 1 && version < 6) {
        db.exec(migrate_jobs_to_6_after);
        db.exec(migrate_keys_to_6_after);
    }
    if (version == 3) db.exec(migrate_results_3_to_4_after);
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

void add_job_seq_function(sqlite_connection& db, const job_ids& ids) {
    if (sqlite3_create_function_v2(db.handle(), "job_seq", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                   const_cast<job_ids*>(&ids), job_seq_function, nullptr, nullptr,
                                   nullptr) != SQLITE_OK) {
        throw sqlite_error(std::string("cannot add job_seq() to SQLite: ") + sqlite3_errmsg(db.handle()));
    }
}
}  // namespace

sqlite_store::sqlite_store(const std::filesystem::path& db_file, uint64_t journal_segment_bytes,
                           std::filesystem::path journal_dir) {
    writer_db_ = std::make_unique<sqlite_connection>(db_file, false);
    writer_db_->exec("PRAGMA journal_mode=WAL");
    writer_db_->exec("PRAGMA synchronous=FULL");
    // Savepoint journals in memory (not a temp file per batch), and a page cache for the
    // hot pages (the growing ends of the append-only B-trees; SQLite's default is 2 MiB).
    // The id and key indexes take random leaves and outgrow any cache with a million
    // jobs: those come from the kernel's page cache; more here would only be RSS.
    writer_db_->exec("PRAGMA temp_store=MEMORY");
    writer_db_->exec("PRAGMA cache_size=-8192");
    ids_ = std::make_unique<job_ids>(migrate(*writer_db_));
    add_job_seq_function(*writer_db_, *ids_);

    // What the journal holds beyond the applied position goes into SQLite first.
    journal_ = std::make_unique<journal>(journal_dir.empty() ? db_file.parent_path() / "journal" : journal_dir,
                                         journal_segment_bytes);
    {
        sqlite_statement s(writer_db_->handle(), "SELECT applied FROM journal_state WHERE id=1");
        if (s.step()) applied_ = static_cast<uint64_t>(s.int64(0));
    }
    std::vector<write_op> replayed;
    size_t replayed_count = 0;
    const auto apply_replayed = [&] {
        std::vector<std::pair<bool, std::string>> outcomes;
        std::string error;
        bool hopeless = false;
        if (!apply(replayed, outcomes, error, hopeless)) {
            throw journal_error("journal: cannot apply the journal to the database: " + error +
                                (hopeless ? "; fix: restore the database from a backup taken with its journal, or move "
                                            "the journal directory away to start without its unapplied writes"
                                          : "; fix: make room or repair the disk, then start again"));
        }
        replayed_count += replayed.size();
        replayed.clear();
    };
    const uint64_t last = journal_->replay(applied_, [&](uint64_t position, std::string_view payload) {
        write_op op;
        try {
            op.journaled = std::make_shared<const job_write>(decode_job_write(payload));
        } catch (const std::exception& e) {
            throw journal_error("journal: record " + std::to_string(position) + " cannot be read (" + e.what() +
                                "); fix: start the ticketd version that wrote it, or move the journal " +
                                "directory away to start without its unapplied writes");
        }
        op.position = position;
        replayed.push_back(std::move(op));
        if (replayed.size() >= max_apply_batch) apply_replayed();
    });
    if (!replayed.empty()) apply_replayed();
    if (replayed_count > 0) {
        log_info("store: applied " + std::to_string(replayed_count) + " journaled writes left by the last run");
    }
    applied_ = appended_ = last;
    journal_->start(last + 1);
    journal_->release(last);
    {
        // After every seq ever given out (AUTOINCREMENT remembers those of removed rows).
        sqlite_statement s(writer_db_->handle(),
                           "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name='jobs'), 0), "
                           "coalesce((SELECT max(seq) FROM jobs), 0))");
        if (s.step()) next_seq_ = s.int64(0) + 1;
    }

    reader_db_ = std::make_unique<sqlite_connection>(db_file, true);
    add_job_seq_function(*reader_db_, *ids_);
    writer_ = std::thread([this] {
        name_this_thread("td-store-write");
        run_or_fail_stop("td-store-write", [this] { journal_loop(); });
    });
    applier_ = std::thread([this] {
        name_this_thread("td-store-apply");
        run_this_thread_as_batch();  // off the latency path
        run_or_fail_stop("td-store-apply", [this] { applier_loop(); });
    });
    reader_ = std::thread([this] {
        name_this_thread("td-store-read");
        run_or_fail_stop("td-store-read", [this] { reader_loop(); });
    });
}

sqlite_store::~sqlite_store() { close(); }

std::optional<size_t> sqlite_store::migration_size(const std::filesystem::path& db_file) {
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

job_identity sqlite_store::new_job_id() {
    const int64_t seq = next_seq_.fetch_add(1);
    return {seq, ids_->make(seq)};
}

void sqlite_store::close() {
    {
        std::scoped_lock lock(write_mutex_, read_mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    // In order: the journal takes what is queued, the applier puts everything into
    // SQLite (a clean stop leaves only applied records in the journal), then the reader.
    write_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    {
        std::lock_guard lock(apply_mutex_);
        applier_stopping_ = true;
    }
    apply_cv_.notify_all();
    if (applier_.joinable()) applier_.join();
    applied_cv_.notify_all();
    read_cv_.notify_all();
    if (reader_.joinable()) reader_.join();
}

void sqlite_store::set_completion_executor(std::function<completion_origin()> origin,
                                           completion_executor executor) {
    std::lock_guard lock(write_mutex_);
    completion_origin_ = std::move(origin);
    completion_executor_ = std::move(executor);
}

size_t sqlite_store::unapplied_writes() const {
    std::lock_guard lock(apply_mutex_);
    return unapplied_;
}

void sqlite_store::set_observer(observer o) {
    observer_.store(std::make_shared<const observer>(std::move(o)));
}

void sqlite_store::answer_all(std::vector<answer> answers) {
    // A write made on an io thread is answered there, where its connection lives: one
    // hand-off per io thread, so that this thread can go on at once. Any other write (a
    // worker's, a timer's) is answered here: a hop through an io thread would only add a
    // wake-up (its waiters' answers are posted to their connections anyway).
    std::vector<std::pair<completion_origin, std::vector<answer>>> by_origin;
    std::vector<answer> here;
    for (auto& a : answers) {
        if (a.origin == nullptr) {
            here.push_back(std::move(a));
            continue;
        }
        auto group = std::find_if(by_origin.begin(), by_origin.end(), [&](const auto& g) { return g.first == a.origin; });
        if (group == by_origin.end()) group = by_origin.insert(group, {a.origin, {}});
        group->second.push_back(std::move(a));
    }
    if (!by_origin.empty()) {
        completion_executor executor;
        {
            std::lock_guard lock(write_mutex_);
            executor = completion_executor_;
        }
        for (auto& [origin, group] : by_origin) {
            auto run = [group = std::move(group)]() {
                for (const auto& a : group) a.done(a.ok, a.error);
            };
            if (executor) executor(origin, std::move(run));
            else run();  // the executor was unset since the write was made
        }
    }
    for (const auto& a : here) a.done(a.ok, a.error);
}

void sqlite_store::enqueue_write(write_op op) {
    bool queued = false;
    {
        std::lock_guard lock(write_mutex_);
        if (!stopping_) {
            if (completion_origin_) op.origin = completion_origin_();
            writes_.push_back(std::move(op));
            queued = true;
        }
    }
    if (!queued) return op.done(false, "the store is closed");
    write_cv_.notify_one();  // after the unlock: the journal thread it wakes takes the mutex
}

void sqlite_store::enqueue_direct(std::function<void(sqlite_connection&)> apply, write_done done) {
    write_op op;
    op.apply = std::move(apply);
    op.done = std::move(done);
    enqueue_write(std::move(op));
}

void sqlite_store::enqueue_job_write(job_write w, write_done done) {
    write_op op;
    op.journaled = std::make_shared<const job_write>(std::move(w));
    op.done = std::move(done);
    enqueue_write(std::move(op));
}

void sqlite_store::enqueue_read(read_op op) {
    std::lock_guard lock(read_mutex_);
    reads_.push_back(std::move(op));
    read_cv_.notify_one();
}

// The journal thread: the latency path of every job write.
void sqlite_store::journal_loop() {
    std::string record;
    for (;;) {
        std::deque<write_op> batch;
        {
            std::unique_lock lock(write_mutex_);
            write_cv_.wait(lock, [&] { return stopping_ || !writes_.empty(); });
            if (writes_.empty()) return;  // stopping and drained
            batch.swap(writes_);
        }
        bool behind;
        {
            // Back-pressure: far behind, new writes wait for the applier (a slow disk
            // slows accepts down); only if it makes no progress at all do they fail.
            std::unique_lock lock(apply_mutex_);
            behind = !applied_cv_.wait_for(lock, std::chrono::seconds(10),
                                           [&] { return unapplied_ < max_unapplied_writes; });
        }
        bool ok = !behind;
        std::string error = behind ? "the store is stuck: " + std::to_string(max_unapplied_writes) +
                                         " writes wait to be applied to the database (see the log)"
                                   : std::string();
        size_t journaled = 0;
        if (ok) {
            mark_superseded(batch);
            for (auto& op : batch) {
                if (!op.journaled) continue;
                ++journaled;
                if (op.superseded) continue;
                record.clear();
                encode(*op.journaled, record);
                op.position = journal_->add(record);
            }
            const auto started = std::chrono::steady_clock::now();
            try {
                journal_->commit();
            } catch (const std::exception& e) {
                ok = false;
                error = e.what();
                log_error(std::string("store: ") + error);
            }
            if (const auto o = observer_.load(); ok && journaled > 0 && o && o->journal_synced) {
                o->journal_synced(std::chrono::steady_clock::now() - started, journaled);
            }
        }
        if (behind || journaled > 0) {
            std::lock_guard lock(trouble_mutex_);
            journal_trouble_ = ok ? std::string() : error;
            journal_trouble_at_ = std::chrono::steady_clock::now();
        }
        // Acknowledged writes become visible to lookups before anyone hears of them.
        if (ok) {
            for (const auto& op : batch) {
                if (op.journaled && !op.superseded) add_pending(op);
            }
        }
        std::vector<answer> answers;
        bool wake_applier;
        {
            std::lock_guard lock(apply_mutex_);
            // The applier waits for a first write, then gathers more until its delay
            // passes, someone waits for a write or the batch is full: only those wake it.
            wake_applier = to_apply_.empty();
            for (auto& op : batch) {
                if (op.journaled) {
                    answers.push_back({op.origin, std::move(op.done), ok, error});
                    if (!ok || op.superseded) continue;
                    appended_ = op.position;
                    ++unapplied_;
                }
                if (!op.journaled) apply_now_ = true;  // someone waits for it
                to_apply_.push_back(std::move(op));
            }
            wake_applier = wake_applier || apply_now_ || to_apply_.size() >= max_apply_batch;
        }
        if (wake_applier) apply_cv_.notify_one();
        answer_all(std::move(answers));
    }
}

std::string sqlite_store::trouble() const {
    if (auto why = journal_->trouble(); !why.empty()) return why;
    std::lock_guard lock(trouble_mutex_);
    if (!journal_trouble_.empty() && std::chrono::steady_clock::now() - journal_trouble_at_ < journal_trouble_window) {
        return journal_trouble_;
    }
    return applier_trouble_;
}

void sqlite_store::mark_superseded(std::deque<write_op>& group) {
    std::vector<const job_write*> writes;
    writes.reserve(group.size());
    for (const auto& op : group) writes.push_back(op.journaled.get());
    const auto superseded = superseded_writes(writes);
    for (size_t i = 0; i < group.size(); ++i) group[i].superseded = superseded[i];
}

// The applier thread: journaled writes (already durable) and other writes into SQLite.
void sqlite_store::applier_loop() {
    auto backoff = std::chrono::milliseconds(100);
    bool spare_failed = false;  // said once, not at every batch
    for (;;) {
        std::vector<write_op> batch;
        {
            std::unique_lock lock(apply_mutex_);
            apply_cv_.wait(lock, [&] { return applier_stopping_ || !to_apply_.empty(); });
            if (to_apply_.empty()) return;  // stopping and drained
            // Let writes gather: one transaction of thousands of writes costs far less
            // per write than many small ones (shared pages, a job's accepted, running and
            // finished states merged into one row write). Nobody waits for it: lookups
            // see pending writes; lists, uploads and purges ask for it at once.
            apply_cv_.wait_until(lock, std::chrono::steady_clock::now() + apply_delay, [&] {
                return applier_stopping_ || apply_now_ || to_apply_.size() >= max_apply_batch;
            });
            apply_now_ = false;
            while (!to_apply_.empty() && batch.size() < max_apply_batch) {
                batch.push_back(std::move(to_apply_.front()));
                to_apply_.pop_front();
            }
        }
        std::vector<std::pair<bool, std::string>> outcomes;
        std::string error;
        bool hopeless = false;
        const auto started = std::chrono::steady_clock::now();
        if (!apply(batch, outcomes, error, hopeless)) {
            {
                std::lock_guard trouble_lock(trouble_mutex_);
                applier_trouble_ = "the database: " + error;
            }
            if (hopeless) {
                // Trying again cannot help, and applying later writes would move the
                // journal's applied position past this one: stop with it in the journal.
                throw std::runtime_error("store: " + error +
                                         ": it cannot be applied, and no later write may be applied before it. fix: "
                                         "see the error; the journal keeps the write and the next start applies it");
            }
            log_error("store: applying " + std::to_string(batch.size()) + " writes failed (retrying): " + error);
            std::unique_lock lock(apply_mutex_);
            if (applier_stopping_) {
                // Nothing more is applied: a later group that went in would move the applied
                // position past these. The journal keeps them for the next start; the
                // writes that are not journaled fail.
                std::vector<write_op> rest(std::make_move_iterator(to_apply_.begin()),
                                           std::make_move_iterator(to_apply_.end()));
                to_apply_.clear();
                lock.unlock();
                log_error("store: stopping with writes not applied; the next start applies the journaled ones");
                for (auto* ops : {&batch, &rest}) {
                    for (auto& op : *ops) {
                        if (op.done) op.done(false, error);
                    }
                }
                return;
            }
            for (auto it = batch.rbegin(); it != batch.rend(); ++it) to_apply_.push_front(std::move(*it));
            apply_cv_.wait_for(lock, backoff, [&] { return applier_stopping_; });
            backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
            continue;
        }
        backoff = std::chrono::milliseconds(100);
        {
            std::lock_guard lock(trouble_mutex_);
            applier_trouble_.clear();
        }
        if (const auto o = observer_.load(); o && o->applied) {
            o->applied(std::chrono::steady_clock::now() - started, batch.size());
        }
        drop_pending(batch);
        const auto [reached, journaled] = journal_reach(batch);
        if (journaled > 0) {
            {
                std::lock_guard lock(apply_mutex_);
                applied_ = reached;
                unapplied_ -= journaled;
            }
            applied_cv_.notify_all();
            journal_->release(reached);
        }
        std::vector<answer> answers;
        for (size_t i = 0; i < batch.size(); ++i) {
            if (!batch[i].journaled) {
                answers.push_back({batch[i].origin, std::move(batch[i].done), outcomes[i].first,
                                   std::move(outcomes[i].second)});
            }
        }
        answer_all(std::move(answers));
        // The journal's next segment is written here, off the latency path, after the
        // batch's waiters have their answers.
        try {
            journal_->prepare_spare();
            spare_failed = false;
        } catch (const std::exception& e) {
            if (!spare_failed) log_warning(std::string("store: ") + e.what() + " (the next segment is reserved instead)");
            spare_failed = true;
        }
    }
}

bool sqlite_store::apply(std::vector<write_op>& batch, std::vector<std::pair<bool, std::string>>& outcomes,
                         std::string& error, bool& hopeless) {
    auto& db = *writer_db_;
    // Journaled writes to the same job merge into the first of them (one row write for
    // accepted + running + finished), unless another kind of write lies between them.
    std::vector<merged_write> merged(batch.size(), merged_write{nullptr, nullptr, nullptr});
    std::vector<bool> absorbed(batch.size(), false);
    {
        std::unordered_map<std::string_view, size_t> open;  // job id -> the write it merges into
        for (size_t i = 0; i < batch.size(); ++i) {
            const job_write* w = batch[i].journaled.get();
            if (!w) {
                open.clear();
                continue;
            }
            const std::string& id = w->job_id();
            if (w->what == job_write::kind::update) {
                if (const auto it = open.find(id); it != open.end()) {
                    auto& into = merged[it->second];
                    into.state = &w->job;
                    if (w->result) into.result = &*w->result;
                    absorbed[i] = true;
                    continue;
                }
            }
            merged[i] = {w, &w->job, w->result ? &*w->result : nullptr};
            if (w->what == job_write::kind::remove) open.erase(id);
            else open[id] = i;
        }
    }
    const uint64_t reached = journal_reach(batch).first;
    const auto apply_one = [&](size_t i) {
        if (absorbed[i]) return;
        if (batch[i].journaled) apply_merged(db, merged[i]);
        else batch[i].apply(db);
    };
    outcomes.assign(batch.size(), {true, {}});
    // Set when SQLite refused a journaled write's own statement for good: only that makes
    // the failure hopeless, never what follows from it (SQLite rolls a transaction back by
    // itself after an I/O error or a full disk, and the ROLLBACK TO or ROLLBACK after that
    // fails "no transaction is active").
    bool refused_for_good = false;
    try {
        // Optimistic: the whole group in one transaction; only if a write fails is the
        // group applied again, each write in its own savepoint, so that it fails alone.
        db.cached("BEGIN IMMEDIATE").run();
        bool one_failed = false;
        for (size_t i = 0; i < batch.size() && !one_failed; ++i) {
            try {
                apply_one(i);
            } catch (const std::exception&) {
                one_failed = true;
            }
        }
        if (one_failed) {
            db.reset_all();
            if (!sqlite3_get_autocommit(db.handle())) db.cached("ROLLBACK").run();
            db.cached("BEGIN IMMEDIATE").run();
            for (size_t i = 0; i < batch.size(); ++i) {
                db.cached("SAVEPOINT op").run();
                try {
                    apply_one(i);
                    db.cached("RELEASE op").run();
                } catch (const std::exception& e) {
                    // A journaled write was acknowledged long ago: it is never dropped
                    // (only one whose job's row is gone already). The whole group is rolled
                    // back, the journal's applied position stays before it, and the
                    // applier tries again or, when trying cannot help, stops.
                    if (batch[i].journaled && dynamic_cast<const no_such_row*>(&e) == nullptr) {
                        const auto* sql = dynamic_cast<const sqlite_error*>(&e);
                        refused_for_good = sql != nullptr && !sql->transient();
                        throw sqlite_error("the write to job " + batch[i].journaled->job_id() + " (journal record " +
                                           std::to_string(batch[i].position) + "): " + e.what());
                    }
                    // SQLite ended the whole transaction (an I/O error, a full disk): the
                    // group is applied again later.
                    if (sqlite3_get_autocommit(db.handle())) throw;
                    outcomes[i] = {false, e.what()};
                    db.reset_all();
                    db.cached("ROLLBACK TO op").run();
                    db.cached("RELEASE op").run();
                }
            }
        }
        if (reached > 0) {
            db.cached("INSERT OR REPLACE INTO journal_state (id, applied) VALUES (1, ?1)")
                .bind(1, static_cast<int64_t>(reached))
                .run();
        }
        db.reset_all();  // no statement keeps a read open across the commit
        db.cached("COMMIT").run();
        for (size_t i = 0; i < batch.size(); ++i) {
            if (batch[i].journaled && !outcomes[i].first) {
                log_warning("store: a journaled write to job " + batch[i].journaled->job_id() +
                            " found no job to apply to (removed before it was applied): " + outcomes[i].second);
            }
        }
        return true;
    } catch (const std::exception& e) {
        error = e.what();
        hopeless = refused_for_good;
        try {
            db.reset_all();
            db.exec("ROLLBACK");
        } catch (const std::exception&) {
        }
        return false;
    }
}

std::pair<uint64_t, size_t> sqlite_store::journal_reach(const std::vector<write_op>& batch) {
    std::pair<uint64_t, size_t> out{0, 0};
    for (const auto& op : batch) {
        if (op.journaled) out = {op.position, out.second + 1};
    }
    return out;
}

void sqlite_store::add_pending(const write_op& op) {
    const auto& w = op.journaled;
    std::lock_guard lock(pending_mutex_);
    auto& p = pending_jobs_[w->job_id()];
    p.position = op.position;
    p.latest = w;
    if (w->result) p.with_result = w;
    if (w->what == job_write::kind::remove) p.with_result.reset();
    if (w->key) pending_keys_[w->key->seq] = {op.position, w->key->job_id};
}

void sqlite_store::drop_pending(const std::vector<write_op>& applied) {
    std::lock_guard lock(pending_mutex_);
    for (const auto& op : applied) {
        const auto& w = op.journaled;
        if (!w) continue;
        // Only if no later write replaced it meanwhile (that one is still to be applied).
        if (const auto it = pending_jobs_.find(w->job_id()); it != pending_jobs_.end() &&
                                                             it->second.position <= op.position) {
            pending_jobs_.erase(it);
        }
        if (w->key) {
            const auto it = pending_keys_.find(w->key->seq);
            if (it != pending_keys_.end() && it->second.first <= op.position) pending_keys_.erase(it);
        }
    }
}

void sqlite_store::wait_applied(uint64_t position) {
    std::unique_lock lock(apply_mutex_);
    if (applied_ < position) {
        apply_now_ = true;
        apply_cv_.notify_one();
    }
    // Bounded: if applying keeps failing (logged), a list answers from what SQLite has.
    if (!applied_cv_.wait_for(lock, std::chrono::seconds(5),
                              [&] { return applied_ >= position || applier_stopping_; })) {
        log_warning("store: a list did not see the latest writes: the applier is behind");
    }
}

void sqlite_store::reader_loop() {
    auto& db = *reader_db_;
    for (;;) {
        read_op op;
        {
            std::unique_lock lock(read_mutex_);
            read_cv_.wait(lock, [&] { return stopping_ || !reads_.empty(); });
            if (reads_.empty()) return;
            op = std::move(reads_.front());
            reads_.pop_front();
        }
        op(db);
        db.reset_all();
    }
}

void sqlite_store::insert(const job_record& job, std::optional<idempotency_binding> key,
                          write_done done) {
    job_write w;
    w.what = job_write::kind::insert;
    w.job = job;
    w.key = std::move(key);
    enqueue_job_write(std::move(w), std::move(done));
}

void sqlite_store::update(const job_record& job, write_done done) {
    enqueue_job_write(update_of(job), std::move(done));
}

void sqlite_store::update(const job_record& job, std::string result, write_done done) {
    enqueue_job_write(update_of(job, std::move(result)), std::move(done));
}

std::optional<std::optional<std::string>> sqlite_store::pending_result(const std::string& job_id) const {
    // A write waiting to be applied is the newest truth; once applied (and only then) it
    // leaves the pending set, so a miss here finds it in SQLite.
    std::lock_guard lock(pending_mutex_);
    const auto it = pending_jobs_.find(job_id);
    if (it == pending_jobs_.end()) return std::nullopt;
    if (it->second.with_result) return *it->second.with_result->result;
    if (it->second.latest->what == job_write::kind::remove) return std::optional<std::string>();
    return std::nullopt;
}

void sqlite_store::read_result(const std::string& job_id, std::function<void(std::optional<std::string>)> done) {
    // A result fetched right after its job finished (the usual case) is not applied yet:
    // answered at once, without a round trip through the reader thread.
    if (auto pending = pending_result(job_id)) return done(std::move(*pending));
    enqueue_read([this, job_id, done = std::move(done)](sqlite_connection& db) {
        if (auto pending = pending_result(job_id)) return done(std::move(*pending));  // written meanwhile
        std::optional<std::string> body;
        try {
            auto& s = db.cached(read_result_sql.c_str());
            s.bind(1, job_id);
            if (s.step()) body = s.blob(0);
        } catch (const std::exception& e) {
            log_error(std::string("store: reading a result failed: ") + e.what());
        }
        done(std::move(body));
    });
}

void sqlite_store::remove(const tombstone& t, write_done done) {
    job_write w;
    w.what = job_write::kind::remove;
    w.removal = t;
    enqueue_job_write(std::move(w), std::move(done));
}

void sqlite_store::purge(unix_ms now, int64_t tombstone_ttl_ms,
                         std::function<void(purge_report)> done) {
    auto report = std::make_shared<purge_report>();
    enqueue_direct([report, now, tombstone_ttl_ms](sqlite_connection& db) {
                       *report = purge_report{};  // a write may be applied twice (see apply())
                       auto& expired = db.cached(
                           "SELECT seq, id, type FROM jobs WHERE expires_at IS NOT NULL AND "
                           "expires_at <= ?1 LIMIT 5000");
                       expired.bind(1, now);
                       struct expired_job {
                           int64_t seq;
                           std::string id, type;
                       };
                       std::vector<expired_job> jobs;
                       while (expired.step()) jobs.push_back({expired.int64(0), expired.text(1), expired.text(2)});
                       for (const auto& [seq, id, type] : jobs) {
                           forget_job(db, seq, tombstone{id, type, now, now + tombstone_ttl_ms});
                           report->purged_job_ids.push_back(id);
                       }
                       db.cached("DELETE FROM tombstones WHERE expires_at <= ?1").bind(1, now).run();
                       auto& keys = db.cached(expired_keys_sql);
                       keys.bind(1, now);
                       while (keys.step()) {
                           idempotency_binding b;
                           b.seq = keys.int64(0);
                           b.principal = keys.text(1);
                           b.key = keys.text(2);
                           b.job_id = keys.text(3);
                           report->expired_keys.push_back(std::move(b));
                       }
                       for (const auto& b : report->expired_keys) {
                           db.cached("DELETE FROM idempotency_keys WHERE seq=?1").bind(1, b.seq).run();
                       }
                   },
                   [report, done = std::move(done)](bool ok, const std::string& error) {
                       if (!ok) {
                           log_error("store: purge failed: " + error);
                           done(purge_report{});
                           return;
                       }
                       done(std::move(*report));
                   });
}

void sqlite_store::find(const std::string& id, std::function<void(job_lookup)> done) {
    enqueue_read([this, id, done = std::move(done)](sqlite_connection& db) {
        job_lookup out;
        {
            std::lock_guard lock(pending_mutex_);
            if (const auto it = pending_jobs_.find(id); it != pending_jobs_.end()) {
                const auto& latest = *it->second.latest;
                if (latest.what == job_write::kind::remove) out.gone = true;
                else out.job = latest.job;
                return done(std::move(out));
            }
        }
        try {
            auto& s = db.cached(find_sql.c_str());
            s.bind(1, id);
            if (s.step()) {
                out.job = read_job(s);
            } else {
                auto& t = db.cached("SELECT 1 FROM tombstones WHERE job_id=?1");
                t.bind(1, id);
                out.gone = t.step();
            }
        } catch (const std::exception& e) {
            log_error(std::string("store: find failed: ") + e.what());
        }
        done(std::move(out));
    });
}

void sqlite_store::find_key(int64_t binding_seq, std::function<void(std::optional<std::string>)> done) {
    enqueue_read([this, binding_seq, done = std::move(done)](sqlite_connection& db) {
        std::optional<std::string> job_id;
        {
            std::lock_guard lock(pending_mutex_);
            if (const auto it = pending_keys_.find(binding_seq); it != pending_keys_.end()) {
                return done(it->second.second);
            }
        }
        try {
            auto& s = db.cached("SELECT job_id FROM idempotency_keys WHERE seq=?1");
            s.bind(1, binding_seq);
            if (s.step()) job_id = s.text(0);
        } catch (const std::exception& e) {
            log_error(std::string("store: key lookup failed: ") + e.what());
        }
        done(std::move(job_id));
    });
}

void sqlite_store::list(const job_query& q, std::function<void(std::vector<job_record>)> done) {
    // A list sees every write acknowledged before it was asked: it waits (on the reader
    // thread) until the applier has put them into SQLite.
    uint64_t acknowledged;
    {
        std::lock_guard lock(apply_mutex_);
        acknowledged = appended_;
    }
    enqueue_read([this, acknowledged, q, done = std::move(done)](sqlite_connection& db) {
        wait_applied(acknowledged);
        std::vector<job_record> out;
        try {
            // Built per query (the filter set varies); parameters are always bound.
            std::string sql = std::string("SELECT ") + job_columns + " FROM jobs WHERE principal=?1";
            int next = 2;
            if (!q.statuses.empty()) {
                sql += " AND status IN (";
                for (size_t i = 0; i < q.statuses.size(); ++i) {
                    sql += (i ? ",?" : "?") + std::to_string(next++);
                }
                sql += ")";
            }
            const int type_at = q.type.empty() ? 0 : next++;
            if (type_at) sql += " AND type=?" + std::to_string(type_at);
            const int key_at = q.idempotency_key.empty() ? 0 : next++;
            if (key_at) sql += " AND idempotency_key=?" + std::to_string(key_at);
            const int after_at = q.created_after ? next++ : 0;
            if (after_at) sql += " AND created_at > ?" + std::to_string(after_at);
            const int before_at = q.created_before ? next++ : 0;
            if (before_at) sql += " AND created_at < ?" + std::to_string(before_at);
            const int cursor_at = q.before_seq ? next++ : 0;
            if (cursor_at) sql += " AND seq < ?" + std::to_string(cursor_at);
            sql += " ORDER BY seq DESC LIMIT ?" + std::to_string(next);
            sqlite_statement s(db.handle(), sql);
            s.bind(1, q.principal);
            for (size_t i = 0; i < q.statuses.size(); ++i) {
                s.bind(static_cast<int>(2 + i), to_string(q.statuses[i]));
            }
            if (type_at) s.bind(type_at, q.type);
            if (key_at) s.bind(key_at, q.idempotency_key);
            if (after_at) s.bind(after_at, *q.created_after);
            if (before_at) s.bind(before_at, *q.created_before);
            if (cursor_at) s.bind(cursor_at, *q.before_seq);
            s.bind(next, int64_t{q.limit});
            while (s.step()) out.push_back(read_job(s));
        } catch (const std::exception& e) {
            log_error(std::string("store: list failed: ") + e.what());
        }
        done(std::move(out));
    });
}

void sqlite_store::insert_upload(const upload_record& u, write_done done) {
    enqueue_direct([u](sqlite_connection& db) {
                       db.cached("INSERT INTO uploads (id, principal, content_type, size, sha256, created_at, "
                                 "expires_at) VALUES (?1,?2,?3,?4,?5,?6,?7)")
                           .bind(1, u.id).bind(2, u.principal).bind(3, u.content_type)
                           .bind(4, static_cast<int64_t>(u.size)).bind(5, u.sha256).bind(6, u.created_at)
                           .bind(7, u.expires_at)
                           .run();
                   },
                   std::move(done));
}

void sqlite_store::remove_uploads(std::vector<std::string> ids, write_done done) {
    enqueue_direct([ids = std::move(ids)](sqlite_connection& db) {
                       for (const auto& id : ids) db.cached("DELETE FROM uploads WHERE id=?1").bind(1, id).run();
                   },
                   std::move(done));
}

// Startup reads: run on the reader thread, wait for the answer.
template <class T>
T sqlite_store::read_now(std::function<T(sqlite_connection&)> read) {
    std::promise<T> result;
    enqueue_read([&](sqlite_connection& db) {
        try {
            if constexpr (std::is_void_v<T>) {
                read(db);
                result.set_value();
            } else {
                result.set_value(read(db));
            }
        } catch (...) {
            result.set_exception(std::current_exception());
        }
    });
    return result.get_future().get();
}

void sqlite_store::load_unfinished(const std::function<void(job_record&&)>& each) {
    read_now<void>([&](sqlite_connection& db) {
        sqlite_statement s(db.handle(), std::string("SELECT ") + job_columns +
                                             " FROM jobs WHERE status IN ('queued','running') ORDER BY seq");
        while (s.step()) each(read_job(s));
    });
}

void sqlite_store::load_bindings(const std::function<void(idempotency_binding&&)>& each) {
    read_now<void>([&](sqlite_connection& db) {
        sqlite_statement s(db.handle(), "SELECT principal, key, job_id, fingerprint, job_deleted, expires_at, seq "
                                        "FROM idempotency_keys");
        while (s.step()) {
            each({s.text(0), s.text(1), s.text(2), s.text(3), s.int64(4) != 0, s.int64(5), s.int64(6)});
        }
    });
}

size_t sqlite_store::count_unfinished() {
    return read_now<size_t>([](sqlite_connection& db) {
        sqlite_statement s(db.handle(), "SELECT count(*) FROM jobs WHERE status IN ('queued','running')");
        return s.step() ? static_cast<size_t>(s.int64(0)) : size_t{0};
    });
}

size_t sqlite_store::count_bindings() {
    return read_now<size_t>([](sqlite_connection& db) {
        sqlite_statement s(db.handle(), "SELECT count(*) FROM idempotency_keys");
        return s.step() ? static_cast<size_t>(s.int64(0)) : size_t{0};
    });
}

std::vector<upload_record> sqlite_store::load_uploads() {
    return read_now<std::vector<upload_record>>([](sqlite_connection& db) {
        std::vector<upload_record> out;
        sqlite_statement s(db.handle(),
                           "SELECT id, principal, content_type, size, sha256, created_at, expires_at FROM uploads");
        while (s.step()) {
            out.push_back({s.text(0), s.text(1), s.text(2), static_cast<uint64_t>(s.int64(3)), s.text(4),
                           s.int64(5), s.int64(6)});
        }
        return out;
    });
}

}  // namespace ticketd
