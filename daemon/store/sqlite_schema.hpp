// The embedded store's SQLite schema: its tables, the migrations from every older version
// (in one transaction), and the job_seq() SQL function each connection needs to find a
// job's row by its id.
#pragma once

#include "store/job_ids.hpp"

#include <cstddef>
#include <filesystem>
#include <optional>

namespace ticketd {

class sqlite_connection;

// Brings the database to the current schema; returns the key job ids are made with (a
// new one for a new database). Throws sqlite_error naming the fix.
job_ids::key migrate_schema(sqlite_connection& db);

// Before opening: how many jobs a migration of `db_file` will copy (nullopt: none is
// needed), so that a supervisor can be told the start takes longer.
std::optional<size_t> migration_size(const std::filesystem::path& db_file);

// job_seq(id) in SQL on `db`: the seq inside a job id (NULL unless 32 hex digits).
void add_job_seq_function(sqlite_connection& db, const job_ids& ids);

}  // namespace ticketd
