#include "model/retry_policy.hpp"

#include <algorithm>
#include <cmath>

namespace ticketd {

std::optional<retry_reason> retry_policy::reason_to_retry(attempt_failure how, std::string_view code,
                                                          bool retryable) const {
    switch (how) {
        case attempt_failure::timeout:
            if (on_timeout) return retry_reason::timeout;
            break;
        case attempt_failure::interrupted:
            if (on_interrupted) return retry_reason::interrupted;
            break;
        case attempt_failure::failed:
            if (retryable) return retry_reason::retryable;
            if (!code.empty() && std::find(on_codes.begin(), on_codes.end(), code) != on_codes.end()) {
                return retry_reason::failure_code;
            }
            break;
    }
    return std::nullopt;
}

int64_t retry_policy::delay_ms(uint32_t next_attempt, double random01) const {
    const double steps = next_attempt > 2 ? std::min<double>(next_attempt - 2, 1000) : 0;  // pow() stays finite
    double delay = static_cast<double>(initial_ms) * std::pow(multiplier, steps);
    delay = std::min(delay, static_cast<double>(max_delay_ms));
    delay -= delay * jitter * std::clamp(random01, 0.0, 1.0);
    return std::max<int64_t>(0, std::llround(delay));
}

}  // namespace ticketd
