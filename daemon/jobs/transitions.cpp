#include "jobs/transitions.hpp"

#include <algorithm>
#include <memory>
#include <utility>

namespace ticketd::transitions {

void touch(job_record& r, unix_ms now) {
    r.version += 1;
    r.updated_at = std::max(now, r.updated_at);
}

void start(job_record& r, unix_ms now) {
    r.status = job_status::running;
    r.started_at = now;
    r.progress_percent.reset();
    r.progress_message.clear();
    touch(r, now);
}

void requeue(job_record& r) {
    r.status = job_status::queued;
    r.started_at = 0;
    r.progress_percent.reset();
    r.progress_message.clear();
}

int64_t backoff_ms(int64_t base_ms, uint32_t attempt) {
    constexpr int64_t hour = 3'600'000;
    int64_t delay = base_ms;
    for (uint32_t i = 2; i < attempt && delay < hour; ++i) delay *= 2;
    return std::min(delay, hour);
}

void retry(job_record& r, unix_ms now, int64_t backoff_base_ms) {
    requeue(r);
    r.attempt += 1;
    r.not_before = now + backoff_ms(backoff_base_ms, r.attempt);
}

job_record terminal(const job_record& from, job_status status, std::optional<job_error> error, unix_ms now,
                    int64_t retention_ms) {
    job_record next = from;
    next.status = status;
    next.error = error ? std::make_shared<const job_error>(std::move(*error)) : nullptr;
    next.finished_at = now;
    next.updated_at = std::max(now, from.updated_at);
    next.expires_at = now + retention_ms;
    if (status == job_status::succeeded) next.progress_percent = 100.0;
    return next;
}

}  // namespace ticketd::transitions
