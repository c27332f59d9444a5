#include "store/sqlite_queries.hpp"

#include "store/sqlite_db.hpp"
#include "store/sqlite_rows.hpp"

namespace ticketd {

job_lookup find_job(sqlite_connection& db, const std::string& id) {
    job_lookup out;
    out.job = find_job_row(db, id);
    if (!out.job) {
        auto& t = db.cached("SELECT principal FROM tombstones WHERE job_id=?1");
        t.bind(1, id);
        out.gone = t.step();
        if (out.gone) out.gone_principal = t.text(0);
    }
    return out;
}

std::optional<std::string> find_key_job(sqlite_connection& db, int64_t binding_seq) {
    auto& s = db.cached("SELECT job_id FROM idempotency_keys WHERE seq=?1");
    s.bind(1, binding_seq);
    if (!s.step()) return std::nullopt;
    return s.text(0);
}

std::vector<job_record> list_jobs(sqlite_connection& db, const job_query& q) {
    // Built per query (the filter set varies); parameters are always bound.
    std::string where = q.principal ? "principal=?1" : "?1 IS NULL";  // nullopt: every principal's
    int next = 2;
    if (!q.statuses.empty()) {
        where += " AND status IN (";
        for (size_t i = 0; i < q.statuses.size(); ++i) where += (i ? ",?" : "?") + std::to_string(next++);
        where += ")";
    }
    const int type_at = q.type.empty() ? 0 : next++;
    if (type_at) where += " AND type=?" + std::to_string(type_at);
    const int key_at = q.idempotency_key.empty() ? 0 : next++;
    if (key_at) where += " AND idempotency_key=?" + std::to_string(key_at);
    const int code_at = q.error_code.empty() ? 0 : next++;
    if (code_at) where += " AND json_extract(error, '$.code')=?" + std::to_string(code_at);
    const int after_at = q.created_after ? next++ : 0;
    if (after_at) where += " AND created_at > ?" + std::to_string(after_at);
    const int before_at = q.created_before ? next++ : 0;
    if (before_at) where += " AND created_at < ?" + std::to_string(before_at);
    const int cursor_at = q.before_seq ? next++ : 0;
    if (cursor_at) where += " AND seq < ?" + std::to_string(cursor_at);
    where += " ORDER BY seq DESC LIMIT ?" + std::to_string(next);
    sqlite_statement s(db.handle(), select_jobs_sql(where));
    if (q.principal) s.bind(1, *q.principal);
    for (size_t i = 0; i < q.statuses.size(); ++i) s.bind(static_cast<int>(2 + i), to_string(q.statuses[i]));
    if (type_at) s.bind(type_at, q.type);
    if (key_at) s.bind(key_at, q.idempotency_key);
    if (code_at) s.bind(code_at, q.error_code);
    if (after_at) s.bind(after_at, *q.created_after);
    if (before_at) s.bind(before_at, *q.created_before);
    if (cursor_at) s.bind(cursor_at, *q.before_seq);
    s.bind(next, int64_t{q.limit});
    std::vector<job_record> out;
    while (s.step()) out.push_back(read_job(s));
    return out;
}

purge_report purge_expired(sqlite_connection& db, unix_ms now, int64_t tombstone_ttl_ms) {
    purge_report report;
    auto& expired = db.cached("SELECT seq, id, type, principal FROM jobs WHERE expires_at IS NOT NULL AND "
                              "expires_at <= ?1 LIMIT 5000");
    expired.bind(1, now);
    struct expired_job {
        int64_t seq;
        std::string id, type, principal;
    };
    std::vector<expired_job> jobs;
    while (expired.step()) jobs.push_back({expired.int64(0), expired.text(1), expired.text(2), expired.text(3)});
    for (const auto& [seq, id, type, principal] : jobs) {
        forget_job(db, seq, tombstone{id, type, now, now + tombstone_ttl_ms, principal});
        report.purged_job_ids.push_back(id);
    }
    db.cached("DELETE FROM tombstones WHERE expires_at <= ?1").bind(1, now).run();
    // Expired key bindings whose job is gone.
    auto& keys = db.cached(
        "SELECT seq, principal, key, job_id FROM idempotency_keys k WHERE expires_at <= ?1 "
        "AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.seq = k.seq AND j.id = k.job_id) "
        "AND NOT EXISTS (SELECT 1 FROM tombstones t WHERE t.job_id = k.job_id) "
        "LIMIT 5000");
    keys.bind(1, now);
    while (keys.step()) {
        idempotency_binding b;
        b.seq = keys.int64(0);
        b.principal = keys.text(1);
        b.key = keys.text(2);
        b.job_id = keys.text(3);
        report.expired_keys.push_back(std::move(b));
    }
    for (const auto& b : report.expired_keys) {
        db.cached("DELETE FROM idempotency_keys WHERE seq=?1").bind(1, b.seq).run();
    }
    return report;
}

void for_each_unfinished_job(sqlite_connection& db, const std::function<void(job_record&&)>& each) {
    sqlite_statement s(db.handle(), select_jobs_sql("status IN ('queued','running','scheduled') ORDER BY seq"));
    while (s.step()) each(read_job(s));
}

void for_each_binding(sqlite_connection& db, const std::function<void(idempotency_binding&&)>& each) {
    sqlite_statement s(db.handle(), "SELECT principal, key, job_id, fingerprint, job_deleted, expires_at, seq "
                                    "FROM idempotency_keys");
    while (s.step()) each({s.text(0), s.text(1), s.text(2), s.text(3), s.int64(4) != 0, s.int64(5), s.int64(6)});
}

size_t count_unfinished_jobs(sqlite_connection& db) {
    sqlite_statement s(db.handle(), "SELECT count(*) FROM jobs WHERE status IN ('queued','running','scheduled')");
    return s.step() ? static_cast<size_t>(s.int64(0)) : size_t{0};
}

size_t count_bindings(sqlite_connection& db) {
    sqlite_statement s(db.handle(), "SELECT count(*) FROM idempotency_keys");
    return s.step() ? static_cast<size_t>(s.int64(0)) : size_t{0};
}

void insert_upload_row(sqlite_connection& db, const upload_record& u) {
    db.cached("INSERT INTO uploads (id, principal, content_type, size, sha256, created_at, expires_at) "
              "VALUES (?1,?2,?3,?4,?5,?6,?7)")
        .bind(1, u.id).bind(2, u.principal).bind(3, u.content_type)
        .bind(4, static_cast<int64_t>(u.size)).bind(5, u.sha256).bind(6, u.created_at)
        .bind(7, u.expires_at)
        .run();
}

void delete_upload_rows(sqlite_connection& db, const std::vector<std::string>& ids) {
    for (const auto& id : ids) db.cached("DELETE FROM uploads WHERE id=?1").bind(1, id).run();
}

std::vector<upload_record> load_upload_rows(sqlite_connection& db) {
    std::vector<upload_record> out;
    sqlite_statement s(db.handle(), "SELECT id, principal, content_type, size, sha256, created_at, expires_at FROM uploads");
    while (s.step()) {
        out.push_back({s.text(0), s.text(1), s.text(2), static_cast<uint64_t>(s.int64(3)), s.text(4), s.int64(5),
                       s.int64(6)});
    }
    return out;
}

}  // namespace ticketd
