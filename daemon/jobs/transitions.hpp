// The state changes of a job, as pure functions of its record and the time: one place
// for each rule, so that submit, the workers, cancel, recovery and drain cannot drift
// apart. None of them stores anything, takes a lock or reads a clock.
#pragma once

#include "model/job.hpp"
#include "model/retry_policy.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <optional>

namespace ticketd::transitions {

// A change clients can see: a new version, and updatedAt never goes back.
void touch(job_record& r, unix_ms now);

// queued -> running: attempt `r.attempt` starts at `now`, with no progress yet.
void start(job_record& r, unix_ms now);

// running -> queued, to run the same attempt again (a drain, or another job's crash that
// interrupted it): no trace of the run is left.
void requeue(job_record& r);

// running -> queued for the next attempt, which may not start before `delay_ms` passed.
// The attempt that ended (`outcome`: failed, timeout or interrupted, and its error) joins
// the job's past attempts, of which the last `keep` are kept.
void retry(job_record& r, unix_ms now, int64_t delay_ms, std::string outcome, std::shared_ptr<const job_error> error,
           unsigned keep);

// failed or canceled -> queued: a new run of the job (POST /v1/jobs/{id}/retry), with the
// type's max_attempts of its own. The attempt that ended joins the past attempts (the last
// `keep`); the result and error are gone.
void rerun(job_record& r, unix_ms now, unsigned keep);

// How an attempt failed, for after_failure.
struct failed_attempt {
    failed_attempt(attempt_failure h, job_error e) : how(h), error(std::move(e)) {}
    attempt_failure how;
    job_error error;                  // what the job shows if it fails for good
    std::string_view plugin_code;     // the plugin's own failure code ("" none)
    bool retryable = false;           // the plugin asked for another attempt
    int64_t retry_after_ms = -1;      // ... after this long (< 0: the policy's backoff)
};

// The end of a failed attempt: the next attempt queued when `policy` retries such a
// failure and the run has attempts left, and no cancel was requested (`why` then says
// why); else the job failed for good.
// `random01` (uniform in [0, 1)) draws the backoff's jitter.
job_record after_failure(const job_record& r, const retry_policy& policy, const failed_attempt& f, unix_ms now,
                         int64_t retention_ms, double random01, std::optional<retry_reason>& why);

// The job as it ends (succeeded, failed or canceled) at `now`, kept for `retention_ms`.
job_record terminal(const job_record& from, job_status status, std::optional<job_error> error, unix_ms now,
                    int64_t retention_ms);

}  // namespace ticketd::transitions
