// Store schemas of earlier releases, to test that the daemon migrates them.
#pragma once

#include "support/sqlite_reader.hpp"

#include <filesystem>
#include <string>

namespace ticketd::test {

// The tables of the first release (schema 1).
inline constexpr const char* schema_1 = R"sql(
PRAGMA journal_mode=WAL;
CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
  principal TEXT NOT NULL, idempotency_key TEXT, fingerprint TEXT, status TEXT NOT NULL,
  cancel_requested INTEGER NOT NULL, attempt INTEGER NOT NULL, priority INTEGER NOT NULL,
  timeout_ms INTEGER NOT NULL, created_at INTEGER NOT NULL, started_at INTEGER, updated_at INTEGER NOT NULL,
  finished_at INTEGER, expires_at INTEGER, not_before INTEGER, progress_percent REAL, progress_message TEXT,
  input TEXT NOT NULL, labels TEXT NOT NULL, error TEXT, result_type TEXT, result_size INTEGER,
  version INTEGER NOT NULL);
CREATE TABLE idempotency_keys (principal TEXT NOT NULL, key TEXT NOT NULL, job_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL, job_deleted INTEGER NOT NULL DEFAULT 0, expires_at INTEGER NOT NULL,
  PRIMARY KEY (principal, key));
CREATE TABLE tombstones (job_id TEXT PRIMARY KEY, type TEXT NOT NULL, deleted_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL);
)sql";

// <state_dir>/ticketd.db with the schema 1 tables, then `sql` (the rows, the later
// schema's changes, and its `PRAGMA user_version`).
inline void write_schema_1_store(const std::filesystem::path& state_dir, const std::string& sql) {
    std::filesystem::create_directories(state_dir);
    sqlite_reader db((state_dir / "ticketd.db").string());
    db.exec(schema_1);
    db.exec(sql);
}

}  // namespace ticketd::test
