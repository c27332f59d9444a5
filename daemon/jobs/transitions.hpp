// The state changes of a job, as pure functions of its record and the time: one place
// for each rule, so that submit, the workers, cancel, recovery and drain cannot drift
// apart. None of them stores anything, takes a lock or reads a clock.
#pragma once

#include "model/job.hpp"

#include <cstdint>
#include <optional>

namespace ticketd::transitions {

// A change clients can see: a new version, and updatedAt never goes back.
void touch(job_record& r, unix_ms now);

// queued -> running: attempt `r.attempt` starts at `now`, with no progress yet.
void start(job_record& r, unix_ms now);

// running -> queued, to run the same attempt again (a drain, or another job's crash that
// interrupted it): no trace of the run is left.
void requeue(job_record& r);

// How long the attempt `attempt` waits after a failed one: the base, doubled for each
// attempt after the second, capped at an hour.
int64_t backoff_ms(int64_t base_ms, uint32_t attempt);

// running -> queued for the next attempt, which may not start before the backoff passed.
void retry(job_record& r, unix_ms now, int64_t backoff_base_ms);

// The job as it ends (succeeded, failed or canceled) at `now`, kept for `retention_ms`.
job_record terminal(const job_record& from, job_status status, std::optional<job_error> error, unix_ms now,
                    int64_t retention_ms);

}  // namespace ticketd::transitions
