// What the engine reports about a job type as things happen: counted and timed by
// metrics/ (Prometheus), which implements this; the engine itself knows no metrics
// library. Calls come from any thread and must be cheap and never block.
#pragma once

#include "model/retry_policy.hpp"

namespace ticketd {

enum class reject_reason { queue_full, invalid_input, unavailable, store_error, over_quota };
enum class job_outcome { succeeded, failed, canceled, timeout, interrupted };

class job_type_events {
   public:
    virtual ~job_type_events() = default;
    virtual void submitted() = 0;  // accepted: durable, answered 202
    virtual void rejected(reject_reason reason) = 0;
    virtual void started(double queue_wait_seconds) = 0;  // an attempt began
    virtual void ran(double seconds) = 0;                 // an attempt's plugin returned
    virtual void completed(job_outcome outcome) = 0;      // the job reached a terminal state
    virtual void retried(retry_reason why) = 0;           // a failed attempt was queued again
    // A worker left inside a plugin that ignored its stop request (+1), or back from it (-1).
    virtual void worker_abandoned(double change) = 0;
};

}  // namespace ticketd
