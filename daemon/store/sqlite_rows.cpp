#include "store/sqlite_rows.hpp"

#include "store/job_write.hpp"

#include <algorithm>
#include <iterator>

namespace ticketd {

namespace {

// The condition that finds the row of the job whose id is ?1 by its rowid: an id made
// before schema 6 through legacy_job_ids, any other by the seq inside it (job_seq(), the
// job_ids decoder registered on each connection); then the whole id must match.
const std::string row_of_id1 = "seq=coalesce((SELECT seq FROM legacy_job_ids WHERE id=?1), job_seq(?1)) AND id=?1";

constexpr const char* job_columns =
    "id, type, principal, idempotency_key, status, cancel_requested, attempt, "
    "priority, timeout_ms, created_at, started_at, updated_at, finished_at, expires_at, "
    "not_before, progress_percent, progress_message, input, labels, error, result_type, "
    "result_size, version, seq, files, result_name, result_inline, attempts, first_attempt";

// A job's state: every column that changes after the insert, in the order the
// statements below bind them (type, principal, key, input, labels, files, priority and
// timeout never change: state updates do not render the JSON texts again).
constexpr const char* state_columns[] = {
    "status", "cancel_requested", "attempt", "started_at", "updated_at", "finished_at", "expires_at",
    "not_before", "progress_percent", "progress_message", "error", "result_type", "result_size", "version",
    "result_name", "result_inline", "attempts", "first_attempt"};
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
    if (j.past_attempts) s.bind(first + 16, attempts_json(*j.past_attempts));
    else s.bind_null(first + 16);
    s.bind(first + 17, int64_t{j.first_attempt});
    static_assert(state_column_count == 18, "bind every state column");
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

const std::string find_seq_sql = "SELECT seq FROM jobs WHERE " + row_of_id1;
const std::string seq_of_id1 = "(" + find_seq_sql + ")";
const std::string find_sql = std::string("SELECT ") + job_columns + " FROM jobs WHERE " + row_of_id1;
const std::string store_result_sql = "INSERT OR REPLACE INTO results (seq, body) VALUES (" + seq_of_id1 + ", ?2)";
const std::string read_result_sql = "SELECT body FROM results WHERE seq=" + seq_of_id1;

}  // namespace

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
        j.error = parse_error_json(s.text(19));
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
    if (!s.is_null(27)) j.past_attempts = parse_attempts_json(s.text(27));
    j.first_attempt = static_cast<uint32_t>(std::max<int64_t>(1, s.int64(28)));
    return j;
}

std::string select_jobs_sql(std::string_view where) {
    return std::string("SELECT ") + job_columns + " FROM jobs WHERE " + std::string(where);
}

std::optional<job_record> find_job_row(sqlite_connection& db, const std::string& id) {
    auto& s = db.cached(find_sql.c_str());
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_job(s);
}

std::optional<std::string> read_result_row(sqlite_connection& db, const std::string& job_id) {
    auto& s = db.cached(read_result_sql.c_str());
    s.bind(1, job_id);
    if (!s.step()) return std::nullopt;
    return s.blob(0);
}

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

// Replaces a stored job's state (on the writer thread).
void apply_update(sqlite_connection& db, const job_record& j) {
    auto& s = db.cached(update_sql.c_str());
    s.bind(1, j.id);
    bind_state(s, j, 2);
    s.run();
    if (db.changes() != 1) throw no_such_row("update: no job " + j.id);
}

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
    auto& s = db.cached("INSERT OR REPLACE INTO tombstones (job_id, type, deleted_at, expires_at, principal) VALUES (?1,?2,?3,?4,?5)");
    s.bind(1, t.job_id).bind(2, t.type).bind(3, t.deleted_at).bind(4, t.expires_at).bind(5, t.principal);
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

void apply_merged(sqlite_connection& db, const merged_write& m) {
    switch (m.first->what) {
        case job_write::kind::insert: insert_job(db, m.first->job, *m.state, m.first->key); break;
        case job_write::kind::update: apply_update(db, *m.state); break;
        case job_write::kind::remove: apply_removal(db, m.first->removal); return;
    }
    if (m.result) store_result(db, *m.state, *m.result);
}

}  // namespace ticketd
