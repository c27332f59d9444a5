// How much each principal may do (quotas: in ticketd.yaml): the limits in force, replaced
// whole at a reload, and the submit rate limit, a token bucket per principal that has a
// submit_rate. The other quotas are checked where their resources are counted: live jobs
// by the job backend, upload bytes by the upload store, priority by the submit route.
#pragma once

#include "config/config.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace ticketd {

// A submit's place in its principal's bucket, for the RateLimit fields
// (draft-ietf-httpapi-ratelimit-headers) and, when refused, Retry-After.
struct rate_decision {
    bool allowed = true;
    uint64_t burst = 0;         // the bucket's size: the policy's quota
    uint64_t window_s = 0;      // seconds the rate takes to fill it: the policy's window
    uint64_t remaining = 0;     // whole tokens left after this submit
    uint64_t reset_s = 0;       // seconds until the bucket is full again
    uint64_t retry_after_s = 0; // refused: seconds until a token is there
};

class quota_keeper {
   public:
    using clock = std::chrono::steady_clock;
    quota_keeper() : limits_(std::make_shared<const quotas_config>()) {}

    void set(std::shared_ptr<const quotas_config> limits) { limits_.store(std::move(limits)); }
    std::shared_ptr<const quotas_config> limits() const { return limits_.load(); }
    // Takes a token for a submit; nullopt when the principal's submits are not limited.
    std::optional<rate_decision> take_submit(const std::string& principal, const principal_limits& limits,
                                             clock::time_point now = clock::now());

   private:
    struct bucket {
        double tokens = 0;
        clock::time_point updated;
        double rate = 0, burst = 0;  // its principal's, when last used
    };
    std::atomic<std::shared_ptr<const quotas_config>> limits_;
    std::mutex mutex_;
    std::unordered_map<std::string, bucket> buckets_;
};

}  // namespace ticketd
