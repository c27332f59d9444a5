// A submit as the job service takes it (POST /v1/jobs once api/ has checked the body) and
// what it answers. Plain data: JSON stays text here, parsed only where it is read.
#pragma once

#include "model/job.hpp"

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ticketd {

struct declared_file;  // model/declared_files.hpp

// A problem with one member of a request, or of a job's input.
struct validation_error {
    std::string pointer;  // JSON Pointer into what was sent
    std::string detail;
};

struct submit_request {
    std::string type;
    std::string input = "{}";  // the job's input: a JSON object, as compact text
    int32_t priority = 0;
    int64_t timeout_ms = 0;     // 0: the type's timeout
    unix_ms run_at = 0;         // scheduled: not before this time (0, or a time past: now)
    std::string labels = "{}";  // a JSON object of strings, as compact text
    job_files files;
    std::string principal;
    std::string idempotency_key;  // empty: none
    std::string fingerprint;      // what makes two requests with one key the same request
    uint64_t max_live_jobs = 0;   // the principal's quota of queued and running jobs; 0: none
    // Its type's bound on scheduled jobs not yet due (set by the engine).
    uint64_t schedule_capacity = std::numeric_limits<uint64_t>::max();
    // The files its type declares (set by the engine; null: any files, unchecked).
    std::shared_ptr<const std::vector<declared_file>> declared_files;
};

enum class submit_status {
    accepted,
    replayed,
    invalid_input,
    unknown_type,
    key_reused,
    key_in_progress,
    key_job_deleted,
    unavailable,        // a queue or the long-poll slots are full
    store_unavailable,  // the job could not be made durable (a full disk, an I/O error)
    over_quota,         // the principal holds max_live_jobs queued and running jobs
    internal
};

struct submit_outcome {
    submit_status status = submit_status::internal;
    std::optional<job_record> job;
    std::vector<validation_error> errors;  // invalid_input: pointers into the request body
    std::string detail;
    std::string job_id;  // key_reused / key_job_deleted: the bound job
};

}  // namespace ticketd
