#include "store/sqlite_store.hpp"
#include "system/thread_name.hpp"

#include "store/sqlite_db.hpp"
#include "system/log.hpp"

#include <future>
#include <iterator>
#include <type_traits>

namespace ticketd {

namespace {

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- accept order, never reused: list order
    id TEXT NOT NULL UNIQUE,
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
-- One B-tree keyed by (principal, key) (schema 4; before, a rowid table with two indexes).
CREATE TABLE IF NOT EXISTS idempotency_keys (
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    job_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    job_deleted INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (principal, key)
) WITHOUT ROWID;
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
// Schema 4: every insert appends instead of landing on random B-tree leaves where it can
// (see docs/performance.md): the key bindings become one WITHOUT ROWID B-tree (their
// by-job index goes), results are keyed by the job's seq. The old tables are renamed,
// `schema` creates the new ones, then their rows are copied over.
constexpr const char* migrate_keys_to_4_before = R"sql(
ALTER TABLE idempotency_keys RENAME TO idempotency_keys_v3;
DROP INDEX IF EXISTS keys_by_job;
)sql";
constexpr const char* migrate_keys_to_4_after = R"sql(
INSERT INTO idempotency_keys SELECT principal, key, job_id, fingerprint, job_deleted, expires_at
    FROM idempotency_keys_v3;
DROP TABLE idempotency_keys_v3;
)sql";
constexpr const char* migrate_results_3_to_4_before = R"sql(
ALTER TABLE results RENAME TO results_v3;
)sql";
constexpr const char* migrate_results_3_to_4_after = R"sql(
INSERT INTO results SELECT j.seq, r.body FROM results_v3 r JOIN jobs j ON j.id = r.job_id;
DROP TABLE results_v3;
)sql";
constexpr int schema_version = 4;

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
        j.files = nlohmann::json::parse(files, nullptr, false);
        if (!j.files.is_object() || j.files.empty()) j.files = nullptr;
    }
    j.result_name = s.text(25);
    j.result_inline = s.int64(26) != 0;
    return j;
}

std::string error_json(const job_error& e) {
    return nlohmann::json{{"code", e.code}, {"title", e.title}, {"detail", e.detail}}.dump();
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
    s.bind(first + 9, j.progress_message);
    if (j.error) s.bind(first + 10, error_json(*j.error));
    else s.bind_null(first + 10);
    s.bind(first + 11, j.result_type)
        .bind(first + 12, static_cast<int64_t>(j.result_size))
        .bind(first + 13, static_cast<int64_t>(j.version));
    if (j.result_name.empty()) s.bind_null(first + 14);
    else s.bind(first + 14, j.result_name);
    s.bind(first + 15, int64_t{j.result_inline});
    static_assert(state_column_count == 16, "bind every state column");
}

// Static storage: cached() keys statements by the address of their SQL text.
const std::string insert_sql = [] {
    std::string sql = "INSERT INTO jobs (id, type, principal, idempotency_key, fingerprint, priority, timeout_ms, "
                      "created_at, input, labels, files";
    for (const char* c : state_columns) sql += std::string(", ") + c;
    sql += ") VALUES (?1";
    for (int i = 2; i <= 11 + state_column_count; ++i) sql += ",?" + std::to_string(i);
    return sql + ")";
}();
const std::string update_sql = [] {
    std::string sql = "UPDATE jobs SET ";
    for (int i = 0; i < state_column_count; ++i) {
        sql += std::string(i ? ", " : "") + state_columns[i] + "=?" + std::to_string(i + 2);
    }
    return sql + " WHERE id=?1";
}();

// The job's row; with a key, the request's fingerprint comes from its binding.
void insert_job(sqlite_connection& db, const job_record& j, const std::optional<idempotency_binding>& key) {
    auto& s = db.cached(insert_sql.c_str());
    s.bind(1, j.id).bind(2, j.type).bind(3, j.principal);
    if (key) s.bind(4, key->key).bind(5, key->fingerprint);
    else s.bind_null(4).bind_null(5);
    s.bind(6, int64_t{j.priority}).bind(7, j.timeout_ms).bind(8, j.created_at).bind(9, j.input).bind(10, j.labels);
    s.bind(11, j.files.empty() ? std::string("{}") : j.files.dump());
    bind_state(s, j, 12);
    s.run();
}

// Replaces a stored job's state (on the writer thread).
void apply_update(sqlite_connection& db, const job_record& j) {
    auto& s = db.cached(update_sql.c_str());
    s.bind(1, j.id);
    bind_state(s, j, 2);
    s.run();
    if (db.changes() != 1) throw sqlite_error("update: no job " + j.id);
}

const char* const delete_result_sql = "DELETE FROM results WHERE seq=(SELECT seq FROM jobs WHERE id=?1)";
// The job's key binding (found through the job's row: the bindings have no by-job index).
const char* const mark_key_deleted_sql =
    "UPDATE idempotency_keys SET job_deleted=1 WHERE (principal, key, job_id) = "
    "(SELECT principal, idempotency_key, id FROM jobs WHERE id=?1)";

const std::string find_sql = std::string("SELECT ") + job_columns + " FROM jobs WHERE id=?1";

}  // namespace

namespace {
void migrate(sqlite_connection& db) {
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
    db.exec("BEGIN IMMEDIATE");
    if (version == 1) db.exec(migrate_1_to_2);
    if (version >= 1 && version < 3) db.exec(migrate_2_to_3);
    if (version >= 1 && version < 4) db.exec(migrate_keys_to_4_before);
    if (version == 3) db.exec(migrate_results_3_to_4_before);
    db.exec(schema);
    if (version >= 1 && version < 4) db.exec(migrate_keys_to_4_after);
    if (version == 3) db.exec(migrate_results_3_to_4_after);
    db.exec(("PRAGMA user_version = " + std::to_string(schema_version)).c_str());
    db.exec("COMMIT");
}
}  // namespace

sqlite_store::sqlite_store(const std::filesystem::path& db_file) {
    writer_db_ = std::make_unique<sqlite_connection>(db_file, false);
    writer_db_->exec("PRAGMA journal_mode=WAL");
    writer_db_->exec("PRAGMA synchronous=FULL");
    // Savepoint journals in memory (not a temp file per batch), and a page cache for the
    // hot pages (the growing ends of the append-only B-trees; SQLite's default is 2 MiB).
    // The id and key indexes take random leaves and outgrow any cache with a million
    // jobs: those come from the kernel's page cache; more here would only be RSS.
    writer_db_->exec("PRAGMA temp_store=MEMORY");
    writer_db_->exec("PRAGMA cache_size=-8192");
    migrate(*writer_db_);
    reader_db_ = std::make_unique<sqlite_connection>(db_file, true);
    writer_ = std::thread([this] {
        name_this_thread("td-store-write");
        writer_loop();
    });
    reader_ = std::thread([this] {
        name_this_thread("td-store-read");
        reader_loop();
    });
}

sqlite_store::~sqlite_store() { close(); }

void sqlite_store::close() {
    {
        std::scoped_lock lock(write_mutex_, read_mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    write_cv_.notify_all();
    read_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    if (reader_.joinable()) reader_.join();
}

void sqlite_store::set_completion_executor(std::function<void(std::function<void()>)> executor) {
    std::lock_guard lock(write_mutex_);
    completion_executor_ = std::move(executor);
}

uint64_t sqlite_store::commits() const {
    std::lock_guard lock(write_mutex_);
    return commits_;
}

void sqlite_store::enqueue_write(write_op op) {
    {
        std::lock_guard lock(write_mutex_);
        if (!stopping_) {
            writes_.push_back(std::move(op));
            write_cv_.notify_one();
            return;
        }
    }
    op.done(false, "the store is closed");
}

void sqlite_store::enqueue_read(read_op op) {
    std::lock_guard lock(read_mutex_);
    reads_.push_back(std::move(op));
    read_cv_.notify_one();
}

void sqlite_store::writer_loop() {
    auto& db = *writer_db_;
    for (;;) {
        std::deque<write_op> batch;
        {
            std::unique_lock lock(write_mutex_);
            write_cv_.wait(lock, [&] { return stopping_ || !writes_.empty(); });
            if (writes_.empty()) return;  // stopping and drained
            batch.swap(writes_);
        }
        std::vector<std::pair<bool, std::string>> outcomes(batch.size(), {true, {}});
        bool committed = false;
        std::string commit_error;
        try {
            // Statements prepared once (sqlite3_exec would compile each of them per job).
            // Optimistic: the whole group in one transaction; only if a write fails is the
            // group applied again, each write in its own savepoint, so that it fails alone.
            db.cached("BEGIN IMMEDIATE").run();
            bool one_failed = false;
            for (auto& op : batch) {
                try {
                    op.apply(db);
                } catch (const std::exception&) {
                    one_failed = true;
                    break;
                }
            }
            if (one_failed) {
                db.reset_all();
                db.cached("ROLLBACK").run();
                db.cached("BEGIN IMMEDIATE").run();
                for (size_t i = 0; i < batch.size(); ++i) {
                    db.cached("SAVEPOINT op").run();
                    try {
                        batch[i].apply(db);
                        db.cached("RELEASE op").run();
                    } catch (const std::exception& e) {
                        outcomes[i] = {false, e.what()};
                        db.reset_all();
                        db.cached("ROLLBACK TO op").run();
                        db.cached("RELEASE op").run();
                    }
                }
            }
            db.reset_all();  // no statement keeps a read open across the commit
            db.cached("COMMIT").run();
            committed = true;
        } catch (const std::exception& e) {
            commit_error = e.what();
            log_error(std::string("store: group commit failed: ") + commit_error);
            try {
                db.reset_all();
                db.exec("ROLLBACK");
            } catch (const std::exception&) {
            }
        }
        {
            std::lock_guard lock(write_mutex_);
            if (committed) ++commits_;
        }
        // The callbacks (answers to render, waiters to wake) run elsewhere when an
        // executor is set, so that this thread can start the next commit at once.
        auto complete = [batch = std::move(batch), outcomes = std::move(outcomes), committed,
                         commit_error]() mutable {
            for (size_t i = 0; i < batch.size(); ++i) {
                if (committed) batch[i].done(outcomes[i].first, outcomes[i].second);
                else batch[i].done(false, commit_error);
            }
        };
        std::function<void(std::function<void()>)> executor;
        {
            std::lock_guard lock(write_mutex_);
            executor = completion_executor_;
        }
        if (executor) executor(std::move(complete));
        else complete();
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
    enqueue_write({[job, key = std::move(key)](sqlite_connection& db) {
                       insert_job(db, job, key);
                       if (key) {
                           auto& s = db.cached(
                               "INSERT OR REPLACE INTO idempotency_keys (principal, key, job_id, "
                               "fingerprint, job_deleted, expires_at) VALUES (?1,?2,?3,?4,0,?5)");
                           s.bind(1, key->principal).bind(2, key->key).bind(3, key->job_id)
                               .bind(4, key->fingerprint).bind(5, key->expires_at);
                           s.run();
                       }
                   },
                   std::move(done)});
}

void sqlite_store::update(const job_record& job, write_done done) {
    enqueue_write({[job](sqlite_connection& db) { apply_update(db, job); }, std::move(done)});
}

void sqlite_store::update(const job_record& job, std::string result, write_done done) {
    enqueue_write({[job, result = std::move(result)](sqlite_connection& db) {
                       apply_update(db, job);
                       db.cached("INSERT OR REPLACE INTO results (seq, body) VALUES ((SELECT seq FROM jobs WHERE id=?1), ?2)")
                           .bind(1, job.id)
                           .bind_blob(2, result)
                           .run();
                   },
                   std::move(done)});
}

void sqlite_store::read_result(const std::string& job_id, std::function<void(std::optional<std::string>)> done) {
    enqueue_read([job_id, done = std::move(done)](sqlite_connection& db) {
        std::optional<std::string> body;
        try {
            auto& s = db.cached("SELECT body FROM results WHERE seq=(SELECT seq FROM jobs WHERE id=?1)");
            s.bind(1, job_id);
            if (s.step()) body = s.blob(0);
        } catch (const std::exception& e) {
            log_error(std::string("store: reading a result failed: ") + e.what());
        }
        done(std::move(body));
    });
}

void sqlite_store::remove(const tombstone& t, write_done done) {
    enqueue_write({[t](sqlite_connection& db) {
                       db.cached(delete_result_sql).bind(1, t.job_id).run();
                       db.cached(mark_key_deleted_sql).bind(1, t.job_id).run();
                       db.cached("DELETE FROM jobs WHERE id=?1").bind(1, t.job_id).run();
                       auto& s = db.cached(
                           "INSERT OR REPLACE INTO tombstones (job_id, type, deleted_at, expires_at) "
                           "VALUES (?1,?2,?3,?4)");
                       s.bind(1, t.job_id).bind(2, t.type).bind(3, t.deleted_at).bind(4, t.expires_at);
                       s.run();
                   },
                   std::move(done)});
}

void sqlite_store::purge(unix_ms now, int64_t tombstone_ttl_ms,
                         std::function<void(purge_report)> done) {
    auto report = std::make_shared<purge_report>();
    enqueue_write({[report, now, tombstone_ttl_ms](sqlite_connection& db) {
                       *report = purge_report{};  // a write may be applied twice (writer_loop)
                       auto& expired = db.cached(
                           "SELECT id, type FROM jobs WHERE expires_at IS NOT NULL AND "
                           "expires_at <= ?1 LIMIT 5000");
                       expired.bind(1, now);
                       std::vector<std::pair<std::string, std::string>> jobs;
                       while (expired.step()) jobs.emplace_back(expired.text(0), expired.text(1));
                       for (const auto& [id, type] : jobs) {
                           db.cached(delete_result_sql).bind(1, id).run();
                           db.cached("DELETE FROM jobs WHERE id=?1").bind(1, id).run();
                           db.cached("INSERT OR REPLACE INTO tombstones (job_id, type, deleted_at, "
                                     "expires_at) VALUES (?1,?2,?3,?4)")
                               .bind(1, id).bind(2, type).bind(3, now).bind(4, now + tombstone_ttl_ms)
                               .run();
                           report->purged_job_ids.push_back(id);
                       }
                       db.cached("DELETE FROM tombstones WHERE expires_at <= ?1").bind(1, now).run();
                       auto& keys = db.cached(
                           "SELECT principal, key, job_id FROM idempotency_keys k WHERE expires_at <= ?1 "
                           "AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = k.job_id) "
                           "AND NOT EXISTS (SELECT 1 FROM tombstones t WHERE t.job_id = k.job_id) "
                           "LIMIT 5000");
                       keys.bind(1, now);
                       while (keys.step()) {
                           idempotency_binding b;
                           b.principal = keys.text(0);
                           b.key = keys.text(1);
                           b.job_id = keys.text(2);
                           report->expired_keys.push_back(std::move(b));
                       }
                       for (const auto& b : report->expired_keys) {
                           db.cached("DELETE FROM idempotency_keys WHERE principal=?1 AND key=?2")
                               .bind(1, b.principal).bind(2, b.key).run();
                       }
                   },
                   [report, done = std::move(done)](bool ok, const std::string& error) {
                       if (!ok) {
                           log_error("store: purge failed: " + error);
                           done(purge_report{});
                           return;
                       }
                       done(std::move(*report));
                   }});
}

void sqlite_store::find(const std::string& id, std::function<void(job_lookup)> done) {
    enqueue_read([id, done = std::move(done)](sqlite_connection& db) {
        job_lookup out;
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

void sqlite_store::find_key(const std::string& principal, const std::string& key,
                            std::function<void(std::optional<std::string>)> done) {
    enqueue_read([principal, key, done = std::move(done)](sqlite_connection& db) {
        std::optional<std::string> job_id;
        try {
            auto& s = db.cached("SELECT job_id FROM idempotency_keys WHERE principal=?1 AND key=?2");
            s.bind(1, principal).bind(2, key);
            if (s.step()) job_id = s.text(0);
        } catch (const std::exception& e) {
            log_error(std::string("store: key lookup failed: ") + e.what());
        }
        done(std::move(job_id));
    });
}

void sqlite_store::list(const job_query& q, std::function<void(std::vector<job_record>)> done) {
    enqueue_read([q, done = std::move(done)](sqlite_connection& db) {
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
    enqueue_write({[u](sqlite_connection& db) {
                       db.cached("INSERT INTO uploads (id, principal, content_type, size, sha256, created_at, "
                                 "expires_at) VALUES (?1,?2,?3,?4,?5,?6,?7)")
                           .bind(1, u.id).bind(2, u.principal).bind(3, u.content_type)
                           .bind(4, static_cast<int64_t>(u.size)).bind(5, u.sha256).bind(6, u.created_at)
                           .bind(7, u.expires_at)
                           .run();
                   },
                   std::move(done)});
}

void sqlite_store::remove_uploads(std::vector<std::string> ids, write_done done) {
    enqueue_write({[ids = std::move(ids)](sqlite_connection& db) {
                       for (const auto& id : ids) db.cached("DELETE FROM uploads WHERE id=?1").bind(1, id).run();
                   },
                   std::move(done)});
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
        sqlite_statement s(db.handle(),
                           "SELECT principal, key, job_id, fingerprint, job_deleted, expires_at FROM idempotency_keys");
        while (s.step()) each({s.text(0), s.text(1), s.text(2), s.text(3), s.int64(4) != 0, s.int64(5)});
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
