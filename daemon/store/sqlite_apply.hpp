// Putting a group of the store's writes into SQLite in one transaction: journaled job
// writes (a job's writes merged into one row write), and writes applied as they are
// (purges, uploads), in order; the journal position reached is recorded in the same
// transaction. If one write fails, the group is applied again with each write in its own
// savepoint, so that the bad one fails alone; a journaled write is never dropped (only
// an update whose job's row is gone already). A write must be safe to apply twice.
#pragma once

#include "store/job_store.hpp"
#include "store/job_write.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ticketd {

class journal;
class sqlite_connection;

struct store_write {
    using origin_t = void*;  // the io thread that made the write (sqlite_store::set_completion_executor)
    std::shared_ptr<const job_write> journaled;     // a job write, for the journal, or
    std::function<void(sqlite_connection&)> apply;  // a write applied as is
    job_store::write_done done;
    uint64_t position = 0;   // the journal record's (journaled writes)
    origin_t origin = nullptr;
    bool superseded = false;  // a later write in its group has the job's whole state
};

// False when the transaction failed (nothing applied), with `error`, and `hopeless` set
// when trying again cannot help (SQLite refuses a journaled write for good). On success,
// `outcomes` says how each write fared (a write that is not journaled may fail alone).
bool apply_writes(sqlite_connection& db, std::vector<store_write>& batch,
                  std::vector<std::pair<bool, std::string>>& outcomes, std::string& error, bool& hopeless);

// The last journal position in `batch` and how many journaled writes it holds.
std::pair<uint64_t, size_t> journal_reach(const std::vector<store_write>& batch);

// Startup: applies what the journal holds past `applied` (in groups of `max_batch`);
// returns the journal's last position. Throws journal_error naming the fix when a record
// cannot be read or applied.
uint64_t replay_journal(sqlite_connection& db, journal& log, uint64_t applied, size_t max_batch);

}  // namespace ticketd
