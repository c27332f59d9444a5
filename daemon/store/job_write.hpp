// A change to a job as the store's journal keeps it: what the engine asked the store to
// make durable (a new job with its key binding, a new state, possibly with a small result,
// or a removal), as plain data that can be written to the journal and read back.
#pragma once

#include "store/job_store.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ticketd {

struct job_write {
    enum class kind : uint8_t { insert = 1, update = 2, remove = 3 };
    kind what = kind::update;
    job_record job;                          // insert, update: the job; remove: unused
    std::optional<idempotency_binding> key;  // insert: the request's key binding, if any
    std::optional<std::string> result;       // update: a small result committed with it
    tombstone removal;                       // remove

    const std::string& job_id() const { return what == kind::remove ? removal.job_id : job.id; }
};

// A job's files as the store keeps them: a JSON object of upload ids. parse_files_json
// throws std::runtime_error on anything else.
std::string files_json(const job_files& files);
job_files parse_files_json(std::string_view text);

// A job's error and its past attempts as the store keeps them (JSON). The parsers return
// null for text they did not write (a row edited by hand): the job then shows none.
std::string error_json(const job_error& e);
std::shared_ptr<const job_error> parse_error_json(std::string_view text);
std::string attempts_json(const attempt_history& attempts);
std::shared_ptr<const attempt_history> parse_attempts_json(std::string_view text);

// The journal's payload for a write. The format is private to one machine and one
// version's journal: a clean stop leaves no journal behind, and a version byte guards the
// rest (decode refuses what it does not know instead of guessing).
void encode(const job_write& w, std::string& out);
// Throws std::runtime_error naming what is wrong when `bytes` is not a write it made.
job_write decode_job_write(std::string_view bytes);

// Of a group of writes made durable together (null: a write that is not a job's), those
// that need not be journaled or applied: a job's state written twice in one group
// (typically `running`, then the finish of a short job), where the later write carries
// the whole state. Only plain state changes are dropped (not one with a result); any
// other write to the job, or a write that is not a job's, is a barrier.
std::vector<bool> superseded_writes(const std::vector<const job_write*>& group);

}  // namespace ticketd
