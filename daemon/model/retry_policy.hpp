// When a job type runs a failed attempt again, and after how long: the `retry:` section
// of a job type's YAML (max_attempts and retry_backoff are its shorthand).
#pragma once

#include "system/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ticketd {

// Why an attempt was queued again (the reason label of ticketd_jobs_retried_total).
enum class retry_reason { retryable, timeout, interrupted, failure_code };
inline constexpr const char* retry_reason_names[] = {"retryable", "timeout", "interrupted", "failure_code"};

// How an attempt ended without a result.
enum class attempt_failure { failed, timeout, interrupted };

struct retry_policy {
    unsigned max_attempts = 1;  // attempts in all, the first one included
    // The wait before attempt n (n >= 2): initial * multiplier^(n-2), at most max_delay,
    // less up to `jitter` of it at random (0: exact, 1: anywhere from 0 to the delay).
    int64_t initial_ms = 0;
    double multiplier = 2.0;
    int64_t max_delay_ms = 3'600'000;
    double jitter = 0.0;
    // What is retried besides failures the plugin marked retryable.
    bool on_timeout = false;
    bool on_interrupted = true;
    std::vector<std::string> on_codes;  // the plugin's own failure codes (without "<type>/")
    unsigned history = 10;             // earlier attempts kept in a job's document

    // Whether an attempt that ended so is retried (attempts left aside): why, or nullopt.
    // `code`: the plugin's failure code; `retryable`: the plugin asked for a retry.
    std::optional<retry_reason> reason_to_retry(attempt_failure how, std::string_view code, bool retryable) const;
    // The wait before attempt `next_attempt` (>= 2); `random01` is uniform in [0, 1).
    int64_t delay_ms(uint32_t next_attempt, double random01) const;
};

// A plugin's own retry delay is honoured up to this.
inline constexpr int64_t max_plugin_retry_delay_ms = 24LL * 3'600'000;

}  // namespace ticketd
