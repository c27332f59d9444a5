// The SQL of one job's rows in the embedded store's database: the job row (what never
// changes after the insert, and its state columns), its small result, its key binding,
// its tombstone. Run on the store's connections; every function throws sqlite_error.
#pragma once

#include "store/job_store.hpp"
#include "store/job_write.hpp"
#include "store/sqlite_db.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ticketd {

// "SELECT <every column read_job reads> FROM jobs WHERE <where>".
std::string select_jobs_sql(std::string_view where);
// The job in the current row of a statement made with select_jobs_sql.
job_record read_job(const sqlite_statement& s);
std::optional<job_record> find_job_row(sqlite_connection& db, const std::string& id);
std::optional<std::string> read_result_row(sqlite_connection& db, const std::string& job_id);

// The job's row: what never changes from `created`, its state from `state` (the same
// record, or a later one when the applier merged the job's writes); with a key, the
// request's fingerprint comes from its binding.
void insert_job(sqlite_connection& db, const job_record& created, const job_record& state,
                const std::optional<idempotency_binding>& key);
// An update whose job has no row (removed or purged before it was applied): nothing of
// the job is left to lose, so the write is dropped, unlike any other failure.
class no_such_row : public sqlite_error {
   public:
    using sqlite_error::sqlite_error;
};
// Replaces a stored job's state; no_such_row when the job has none.
void apply_update(sqlite_connection& db, const job_record& j);
void store_result(sqlite_connection& db, const job_record& job, const std::string& body);
// A job's rows go (its result, its row, its old id's listing) and a tombstone stays: a
// removal and a purge alike. `seq` is 0 when the row is gone already.
void forget_job(sqlite_connection& db, int64_t seq, const tombstone& t);
// A removal: forget_job, and the job's key binding is marked deleted.
void apply_removal(sqlite_connection& db, const tombstone& t);

// Several journaled writes to one job, applied as one: the first says whether the row is
// new (and holds what never changes), the last holds the state, `result` the latest
// result among them.
struct merged_write {
    const job_write* first;
    const job_record* state;
    const std::string* result;
};
void apply_merged(sqlite_connection& db, const merged_write& m);

}  // namespace ticketd
