// A job's record: everything the protocol shows about it and everything the store keeps.
// Plain data, shared by every layer; how it looks on the wire is api/'s business, how it
// is kept on disk the store's.
#pragma once

#include "system/time.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ticketd {

// (The numbers are stored in the journal: new ones go at the end.)
enum class job_status { queued, running, succeeded, failed, canceled, scheduled };

std::string_view to_string(job_status s);
std::optional<job_status> parse_job_status(std::string_view s);
inline bool is_terminal(job_status s) {
    return s == job_status::succeeded || s == job_status::failed || s == job_status::canceled;
}

// Why a job failed or was canceled; rendered as an RFC 9457 object in the document.
struct job_error {
    std::string code;  // job-failed, job-timeout, job-canceled, job-interrupted, <type>/<code>
    std::string title;
    std::string detail;
};

// An attempt that ended without ending its job (it was retried): what the job's document
// lists under `attempts` before the current one.
struct attempt_record {
    uint32_t number = 0;
    unix_ms started_at = 0;
    unix_ms finished_at = 0;
    std::string outcome;  // failed, timeout, interrupted
    std::shared_ptr<const job_error> error;
};
using attempt_history = std::vector<attempt_record>;

// The uploads a job reads: its name for each (what the plugin asks for) -> upload id.
using job_files = std::map<std::string, std::string>;

struct job_record {
    std::string id;
    std::string type;
    std::string principal;
    std::string idempotency_key;  // empty when none
    job_status status = job_status::queued;
    bool cancel_requested = false;
    uint32_t attempt = 1;
    uint32_t first_attempt = 1;  // its latest run's first attempt: a re-run has max_attempts of its own
    int32_t priority = 0;
    int64_t timeout_ms = 0;  // 0: the type's timeout
    unix_ms created_at = 0;
    unix_ms started_at = 0;
    unix_ms updated_at = 0;
    unix_ms finished_at = 0;
    unix_ms expires_at = 0;
    unix_ms not_before = 0;  // a retry's backoff, or when a scheduled job is due: not before
    std::optional<double> progress_percent;
    std::string progress_message;
    std::string input = "{}";   // JSON text (compact): only the plugin and the store read it
    std::string labels = "{}";  // JSON text (compact), shown as is in the document
    job_files files;
    std::string result_name;  // the result's file name (Content-Disposition), when the plugin named it
    std::shared_ptr<const job_error> error;  // shared and immutable: records are copied often
    std::string result_type;  // media type, when succeeded
    uint64_t result_size = 0;
    bool result_inline = false;  // the result is in the store (small), not a file
    // Earlier attempts that were retried, oldest first, the last retry_policy::history
    // of them (null: none). Shared and immutable, like `error`.
    std::shared_ptr<const attempt_history> past_attempts;
    uint64_t version = 1;
    int64_t seq = 0;  // the store's accept order (list order), given with the id (job_store::new_job_id)

    // Strong entity tag of the current document.
    std::string etag() const;
    // How its current attempt ended, for its list of attempts: running, succeeded,
    // canceled, failed, timeout or interrupted.
    std::string_view attempt_outcome() const;
};

}  // namespace ticketd
