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

void retry(job_record& r, unix_ms now, int64_t delay_ms, std::string outcome, std::shared_ptr<const job_error> error,
           unsigned keep) {
    auto history = std::make_shared<attempt_history>();
    if (r.past_attempts) *history = *r.past_attempts;
    history->push_back({r.attempt, r.started_at, now, std::move(outcome), std::move(error)});
    if (history->size() > keep) history->erase(history->begin(), history->end() - keep);
    r.past_attempts = history->empty() ? nullptr : std::move(history);
    requeue(r);
    r.error = nullptr;
    r.attempt += 1;
    r.not_before = now + delay_ms;
    r.updated_at = std::max(now, r.updated_at);
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

job_record after_failure(const job_record& r, const retry_policy& policy, const failed_attempt& f, unix_ms now,
                         int64_t retention_ms, double random01, std::optional<retry_reason>& why) {
    why = r.attempt < policy.max_attempts ? policy.reason_to_retry(f.how, f.plugin_code, f.retryable) : std::nullopt;
    if (!why) return terminal(r, job_status::failed, f.error, now, retention_ms);
    static constexpr const char* outcomes[] = {"failed", "timeout", "interrupted"};
    job_record next = r;
    const int64_t delay =
        f.retryable && f.retry_after_ms >= 0 ? f.retry_after_ms : policy.delay_ms(r.attempt + 1, random01);
    retry(next, now, delay, outcomes[static_cast<int>(f.how)], std::make_shared<const job_error>(f.error),
          policy.history);
    return next;
}

}  // namespace ticketd::transitions
