// The embedded store's reads and its bulk writes, as SQL on one connection: lookups,
// lists, the retention purge, what startup loads, uploads' rows. The store's threads run
// them (the reader thread reads, the applier writes); each throws sqlite_error.
#pragma once

#include "store/job_store.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ticketd {

class sqlite_connection;

// The job's row, or whether a tombstone says it is gone.
job_lookup find_job(sqlite_connection& db, const std::string& id);
// The job id bound by the key binding with this seq.
std::optional<std::string> find_key_job(sqlite_connection& db, int64_t binding_seq);
// A page of a principal's jobs, newest first.
std::vector<job_record> list_jobs(sqlite_connection& db, const job_query& q);

// Removes terminal jobs past their expiry (leaving tombstones of `tombstone_ttl_ms`),
// tombstones past theirs, and key bindings whose job is gone, up to 5,000 of each.
purge_report purge_expired(sqlite_connection& db, unix_ms now, int64_t tombstone_ttl_ms);

void for_each_unfinished_job(sqlite_connection& db, const std::function<void(job_record&&)>& each);
void for_each_binding(sqlite_connection& db, const std::function<void(idempotency_binding&&)>& each);
size_t count_unfinished_jobs(sqlite_connection& db);
size_t count_bindings(sqlite_connection& db);

void insert_upload_row(sqlite_connection& db, const upload_record& u);
void delete_upload_rows(sqlite_connection& db, const std::vector<std::string>& ids);
std::vector<upload_record> load_upload_rows(sqlite_connection& db);

}  // namespace ticketd
