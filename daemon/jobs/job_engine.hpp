// The job engine: what api/ talks to (job_service). It holds what a ticketd node does by
// itself: the job types and their plugins (and reloading them), validating inputs off the
// io threads, the worker threads (attempt_runner), starting and draining. Where the jobs
// live (their states, queues, keys, wake-ups and crash rules) is the backend's
// (job_backend.hpp), which the engine passes everything else to.
#pragma once

#include "config/config.hpp"
#include "jobs/attempt_runner.hpp"
#include "jobs/job_backend.hpp"
#include "jobs/job_service.hpp"
#include "jobs/job_type.hpp"
#include "system/scheduler.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ticketd {

class periodic_jobs;

class job_engine final : public job_service, private job_backend_host {
   public:
    struct settings {
        std::filesystem::path scratch_dir;  // attempts' scratch directories
        std::chrono::milliseconds drain_timeout{30'000};
        std::chrono::milliseconds cancel_grace{5'000};
    };
    job_engine(settings s, job_backend& backend, scheduler& timers, std::vector<job_type_ptr> types);
    ~job_engine() override;
    job_engine(const job_engine&) = delete;
    job_engine& operator=(const job_engine&) = delete;

    // Startup (blocking): the backend loads what is stored and applies the crash rules.
    void recover() { backend_.recover(); }
    // Starts the worker pools and the backend's retention; from now on submits are accepted.
    void start();
    // SIGTERM: stop accepting, let running jobs finish for drain_timeout, then cancel and
    // requeue them without using an attempt. Returns true when every worker has stopped.
    bool drain();

    bool accepting() const override { return accepting_.load(); }
    std::string store_trouble() const override { return backend_.trouble(); }
    void submit(submit_request request, std::function<void(submit_outcome)> done) override;
    void get(const std::string& id, const caller& who, std::function<void(lookup_outcome)> done) override {
        backend_.get(id, who, std::move(done));
    }
    std::optional<uint64_t> watch(const std::string& id, const caller& who, const std::string& etag,
                                  std::chrono::milliseconds wait, std::function<void(lookup_outcome)> done) override {
        return backend_.watch(id, who, etag, wait, std::move(done));
    }
    void unwatch(const std::string& id, uint64_t waiter_id) override { backend_.unwatch(id, waiter_id); }
    void rerun(const std::string& id, const caller& who, uint64_t max_live_jobs,
               std::function<void(rerun_outcome)> done) override {
        backend_.rerun(id, who, max_live_jobs, std::move(done));
    }
    void cancel(const std::string& id, const caller& who, std::function<void(cancel_outcome)> done) override {
        backend_.cancel(id, who, std::move(done));
    }
    void remove(const std::string& id, const caller& who, std::function<void(remove_status)> done) override {
        backend_.remove(id, who, std::move(done));
    }
    void list(const job_query& query, std::function<void(std::vector<job_record>)> done) override {
        backend_.list(query, std::move(done));
    }
    std::vector<job_type_info> types() const override;
    void pause(const std::string& type, bool paused, std::function<void(pause_result)> done) override;
    std::filesystem::path result_path(const std::string& job_id) const override { return backend_.result_path(job_id); }
    void read_result(const std::string& job_id, std::function<void(std::optional<std::string>)> done) override {
        backend_.read_result(job_id, std::move(done));
    }

    // SIGHUP: makes `next` the set of job types. Limits, retention and pool sizes change in
    // place; new types are created with `create` and started; a type that is gone, or whose
    // plugin, settings or validation pool changed, is stopped (and replaced), which is
    // allowed only while it has no unfinished jobs. All or nothing: throws
    // std::runtime_error saying why, and then nothing has changed. Returns a one-line
    // summary of what changed.
    std::string reload(const std::vector<job_type_config>& next, const job_type_factory& create);

    uint64_t waiters() const { return backend_.waiters(); }
    // types() shows these schedules' state (periodic jobs: jobs/periodic_jobs.hpp).
    void report_schedules(const periodic_jobs* schedules) { schedules_ = schedules; }

   private:
    std::optional<job_type_rules> rules(const std::string& type) const override;
    void cancel_requested(const claimed_attempt& attempt) override;

    // Gives a new job type its queue (and an events sink, if it has none).
    void adopt(job_type_runtime& rt);
    // The rest of submit() once the cheap checks passed (on a validation thread): the
    // plugin's validate(), then the backend's accept.
    void validate_and_accept(const job_type_ptr& rt, submit_request req, const std::function<void(submit_outcome)>& done);
    static void join_workers(job_type_runtime& rt);

    const settings settings_;
    job_backend& backend_;
    type_registry types_;
    attempt_runner runner_;
    std::mutex reload_mutex_;  // one reload at a time
    std::atomic<bool> accepting_{false};
    const periodic_jobs* schedules_ = nullptr;
};

}  // namespace ticketd
