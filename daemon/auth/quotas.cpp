#include "auth/quotas.hpp"

#include <algorithm>
#include <cmath>

namespace ticketd {

namespace {
// Buckets of principals that have not submitted for a while are full again: forgetting
// them changes nothing. Past this many, the full ones are dropped.
constexpr size_t buckets_kept = 10'000;

uint64_t whole_seconds(double seconds) { return static_cast<uint64_t>(std::ceil(std::max(0.0, seconds))); }
}  // namespace

std::optional<rate_decision> quota_keeper::take_submit(const std::string& principal, const principal_limits& limits,
                                                       clock::time_point now) {
    if (limits.submit_rate <= 0) return std::nullopt;
    const double rate = limits.submit_rate;
    const double burst = static_cast<double>(
        limits.submit_burst > 0 ? limits.submit_burst : std::max<uint64_t>(1, static_cast<uint64_t>(rate)));
    rate_decision d;
    d.burst = static_cast<uint64_t>(burst);
    d.window_s = whole_seconds(burst / rate);
    std::lock_guard lock(mutex_);
    if (buckets_.size() >= buckets_kept && !buckets_.contains(principal)) {
        std::erase_if(buckets_, [&](const auto& kv) {
            const bucket& b = kv.second;
            return b.tokens + std::chrono::duration<double>(now - b.updated).count() * b.rate >= b.burst;
        });
    }
    auto [it, fresh] = buckets_.try_emplace(principal, bucket{burst, now, rate, burst});
    bucket& b = it->second;
    b.rate = rate;
    b.burst = burst;
    if (!fresh) {
        const double elapsed = std::chrono::duration<double>(now - b.updated).count();
        b.tokens = std::min(burst, b.tokens + std::max(0.0, elapsed) * rate);
        b.updated = now;
    }
    if (b.tokens >= 1) {
        b.tokens -= 1;
    } else {
        d.allowed = false;
        d.retry_after_s = std::max<uint64_t>(1, whole_seconds((1 - b.tokens) / rate));
    }
    d.remaining = static_cast<uint64_t>(b.tokens);
    d.reset_s = whole_seconds((burst - b.tokens) / rate);
    return d;
}

}  // namespace ticketd
