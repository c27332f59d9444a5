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

namespace {
// The attempt that ended joins the past ones, of which the last `keep` stay.
void keep_attempt(job_record& r, attempt_record ended, unsigned keep) {
    auto history = std::make_shared<attempt_history>();
    if (r.past_attempts) *history = *r.past_attempts;
    history->push_back(std::move(ended));
    if (history->size() > keep) history->erase(history->begin(), history->end() - keep);
    r.past_attempts = history->empty() ? nullptr : std::move(history);
}
}  // namespace

void retry(job_record& r, unix_ms now, int64_t delay_ms, std::string outcome, std::shared_ptr<const job_error> error,
           unsigned keep) {
    keep_attempt(r, {r.attempt, r.started_at, now, std::move(outcome), std::move(error)}, keep);
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

void rerun(job_record& r, unix_ms now, unsigned keep) {
    if (r.started_at != 0) {  // a job canceled before it started used no attempt
        keep_attempt(r, {r.attempt, r.started_at, r.finished_at, std::string(r.attempt_outcome()), r.error}, keep);
        r.attempt += 1;
    }
    requeue(r);
    r.first_attempt = r.attempt;
    r.cancel_requested = false;
    r.error = nullptr;
    r.finished_at = 0;
    r.expires_at = 0;
    r.not_before = 0;
    r.result_type.clear();
    r.result_name.clear();
    r.result_size = 0;
    r.result_inline = false;
    r.updated_at = std::max(now, r.updated_at);
}

job_record after_failure(const job_record& r, const retry_policy& policy, const failed_attempt& f, unix_ms now,
                         int64_t retention_ms, double random01, std::optional<retry_reason>& why) {
    const uint32_t attempts_used = r.attempt - std::min(r.attempt, r.first_attempt) + 1;  // in this run
    why = attempts_used < policy.max_attempts && !r.cancel_requested  // a cancel is never undone by a retry
              ? policy.reason_to_retry(f.how, f.plugin_code, f.retryable)
              : std::nullopt;
    if (!why) return terminal(r, job_status::failed, f.error, now, retention_ms);
    static constexpr const char* outcomes[] = {"failed", "timeout", "interrupted"};
    job_record next = r;
    const int64_t delay =
        f.retryable && f.retry_after_ms >= 0 ? f.retry_after_ms : policy.delay_ms(attempts_used + 1, random01);
    retry(next, now, delay, outcomes[static_cast<int>(f.how)], std::make_shared<const job_error>(f.error),
          policy.history);
    return next;
}

}  // namespace ticketd::transitions
