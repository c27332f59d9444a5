// What api/ may ask of the jobs: the whole protocol's behaviour behind one interface, so
// that the routes depend on no engine (and are unit-tested against a fake one): submit,
// the job types, readiness, and the operations on existing jobs (job_operations.hpp).
//
// Calls come from io threads and never block on disk or plugin code; answers come back
// through callbacks, exactly once, on whichever thread finished the work (an io thread at
// once, the store's, a worker's, the timers'). Callbacks must not block.
#pragma once

#include "jobs/job_operations.hpp"
#include "model/outcomes.hpp"
#include "model/submit.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ticketd {

class job_service : public job_operations {
   public:
    // False while starting and once a drain began: submits are refused (503).
    virtual bool accepting() const = 0;
    // Why jobs cannot be made durable now (empty: they can).
    virtual std::string store_trouble() const = 0;

    virtual void submit(submit_request request, std::function<void(submit_outcome)> done) = 0;
    virtual std::vector<job_type_info> types() const = 0;
    // Pauses or resumes a job type, durably (job_backend::set_paused). `done(false)`: no
    // such type (not_found), or the change could not be stored (the `stored` flag).
    enum class pause_result { done, not_found, not_stored };
    virtual void pause(const std::string& type, bool paused, std::function<void(pause_result)> done) = 0;
};

}  // namespace ticketd
