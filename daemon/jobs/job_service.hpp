// What api/ may ask of the jobs: the whole protocol's behaviour behind one interface, so
// that the routes depend on no engine (and are unit-tested against a fake one).
//
// Calls come from io threads and never block on disk or plugin code; answers come back
// through callbacks, exactly once, on whichever thread finished the work (an io thread at
// once, the store's, a worker's, the timers'). Callbacks must not block.
#pragma once

#include "model/job_query.hpp"
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

class job_service {
   public:
    virtual ~job_service() = default;

    // False while starting and once a drain began: submits are refused (503).
    virtual bool accepting() const = 0;
    // Why jobs cannot be made durable now (empty: they can).
    virtual std::string store_trouble() const = 0;

    virtual void submit(submit_request request, std::function<void(submit_outcome)> done) = 0;
    virtual void get(const std::string& id, const std::string& principal,
                     std::function<void(lookup_outcome)> done) = 0;
    // Long-poll: answers when the job's ETag differs from `etag` (empty: when it is
    // terminal), or at the deadline. Returns the waiter's id (0: answered at once), or
    // nullopt when the cap on waiters is reached (`done` is then never called).
    virtual std::optional<uint64_t> watch(const std::string& id, const std::string& principal,
                                          const std::string& etag, std::chrono::milliseconds wait,
                                          std::function<void(lookup_outcome)> done) = 0;
    // Drops a waiter whose client went away; its `done` is never called.
    virtual void unwatch(const std::string& id, uint64_t waiter_id) = 0;
    virtual void cancel(const std::string& id, const std::string& principal,
                        std::function<void(cancel_outcome)> done) = 0;
    virtual void remove(const std::string& id, const std::string& principal,
                        std::function<void(remove_status)> done) = 0;
    virtual void list(const job_query& query, std::function<void(std::vector<job_record>)> done) = 0;
    virtual std::vector<job_type_info> types() const = 0;

    // A succeeded job's result: a file (job_record::result_inline false) at this path, or
    // bytes kept with the job, read with read_result (nullopt: none).
    virtual std::filesystem::path result_path(const std::string& job_id) const = 0;
    virtual void read_result(const std::string& job_id, std::function<void(std::optional<std::string>)> done) = 0;
};

}  // namespace ticketd
