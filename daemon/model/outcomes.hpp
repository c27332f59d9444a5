// What the job service answers to reads, cancels and deletes, and how it describes a job type.
#pragma once

#include "model/declared_files.hpp"
#include "model/job.hpp"
#include "model/retry_policy.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ticketd {

struct lookup_outcome {
    std::optional<job_record> job;
    bool gone = false;  // deleted or expired: a tombstone is left
};

enum class cancel_status { not_found, gone, canceled, cancel_requested, already_terminal, internal };
struct cancel_outcome {
    cancel_status status = cancel_status::internal;
    std::optional<job_record> job;
};

// POST /v1/jobs/{id}/retry: a failed or canceled job runs again.
enum class rerun_status {
    requeued,
    not_found,
    gone,
    not_rerunnable,  // queued, running or succeeded (job says which)
    unknown_type,    // its type is not served here (any more)
    files_gone,      // an upload it reads has expired or was deleted (detail names it)
    unavailable,     // its queue is full, or ticketd is stopping
    over_quota,      // the principal holds max_live_jobs queued and running jobs
    internal         // the change could not be stored
};
struct rerun_outcome {
    rerun_status status = rerun_status::internal;
    std::optional<job_record> job;
    std::string detail;
};

enum class remove_status { not_found, removed_terminal, removed_live, internal };

// One schedule as GET /v1/job-types shows it.
struct schedule_status {
    std::string type;
    std::string name;
    std::string cron;
    std::string time_zone;
    unix_ms next_fire = 0;  // 0: never
    unix_ms last_fire = 0;  // 0: not yet
    std::string last_job;
    std::string last_error;   // why its latest refused fire was refused; empty since one went through
    unix_ms last_error_at = 0;
};

struct job_type_info {
    std::string type;
    std::string plugin;
    std::string plugin_version;
    unsigned workers = 0;
    unsigned busy = 0;
    uint64_t queue_length = 0;
    uint64_t waiting_to_retry = 0;  // of queue_length
    uint64_t scheduled = 0;         // not yet due (apart from queue_length)
    uint64_t schedule_capacity = 0;
    bool paused = false;
    bool refuse_when_paused = false;
    uint64_t queue_capacity = 0;
    unix_ms oldest_queued_created_at = 0;  // 0: nothing queued
    int64_t timeout_ms = 0;
    retry_policy retry;
    int64_t retention_ms = 0;
    uint64_t max_input_bytes = 0;
    std::string plugin_license;
    std::string plugin_description;
    std::string settings_schema;  // JSON text; empty: any
    std::string input_schema;     // JSON text; empty: any
    std::shared_ptr<const declared_files> files;  // null: any files
    std::vector<schedule_status> schedules;
};

}  // namespace ticketd
