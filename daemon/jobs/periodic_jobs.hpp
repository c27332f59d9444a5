// Periodic jobs: each of the job types' `schedules:` submits an ordinary job at its cron
// times, through the job service like any client, with the idempotency key
// schedule:<type>:<name>:<fire time>: a restart, a reload or a second node that tries
// the same slot again gets the job already made, never a second one. What each schedule
// fired last is kept in a state file, so that after a downtime the slots missed are fired
// as its catch_up says (none, the last, or all, at most catch_up_limit).
//
// A fire that is refused for a reason that passes (a full or paused queue, a store that
// cannot write, a quota, a drain) is tried again, after 1 s, then twice as long each time
// up to a minute, until the schedule's next slot is due (the fire is the request as the
// slot first made it, even if a reload changed the schedule since); the refusal is shown as the
// schedule's lastError until a fire goes through. A fire refused for good (its input no
// longer valid) is not retried.
//
// Fires run on the timer thread; the state file is written on a thread of its own.
#pragma once

#include "config/config.hpp"
#include "jobs/job_service.hpp"
#include "system/cron_schedule.hpp"
#include "system/scheduler.hpp"
#include "system/task_pool.hpp"

#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ticketd {

// The state file's contents (schedule id -> last fire, last job); entries that are not
// as written are skipped, and `problem` says when the whole text is not.
std::map<std::string, std::pair<unix_ms, std::string>> read_schedule_state(std::string_view text, std::string& problem);

class periodic_jobs {
   public:
    // `state_file` holds what each schedule fired last (read now; a damaged one is logged
    // and read as empty: no catch-up then).
    periodic_jobs(job_service& jobs, scheduler& timers, std::filesystem::path state_file);
    ~periodic_jobs();
    periodic_jobs(const periodic_jobs&) = delete;
    periodic_jobs& operator=(const periodic_jobs&) = delete;

    // The schedules from now on (at start, and at each reload). A schedule seen for the
    // first time starts from now; one known from before fires what it missed, by its
    // catch_up, then goes on.
    void set(const std::vector<job_type_config>& types);
    // No more fires (a drain).
    void stop();

    std::vector<schedule_status> statuses() const;

   private:
    struct entry {
        schedule_config config;
        std::string type;
        cron_schedule cron;
        unix_ms handled_until = 0;  // every slot up to here was fired (or skipped by catch_up)
        unix_ms next_fire = 0;
        unix_ms last_fire = 0;
        std::string last_job;
        std::string last_error;  // why the latest refused fire was refused; empty since one went through
        unix_ms last_error_at = 0;
    };
    using entries = std::map<std::string, entry>;  // by "type/name"

    // A slot to fire: the submit, made once mutex_ is let go (a submit may answer at once).
    struct fire {
        std::string id;
        unix_ms slot;
        unix_ms next_slot;  // the schedule's slot after it (0: none): a refused fire is retried until then
        submit_request request;
    };
    // Under mutex_: the slots of `e` in (handled_until, now] to fire, into `out`: after a
    // downtime (`catching_up`) as its catch_up says; else (the timer, however late) the
    // latest, or with catch_up all each of them.
    void due_locked(entry& e, unix_ms now, bool catching_up, std::vector<fire>& out);
    // A refused fire, to try again at `at`.
    struct refused_fire {
        fire what;
        unix_ms at = 0;
        int64_t wait_ms = 0;  // before this try; doubled for the next
    };
    void submit(std::vector<fire> fires, std::vector<int64_t> waits = {});
    void answered(const fire& f, int64_t waited_ms, const submit_outcome& out);
    void arm_locked();
    void on_timer();
    void save();

    job_service& jobs_;
    scheduler& timers_;
    const std::filesystem::path state_file_;
    mutable std::mutex mutex_;
    entries entries_;
    std::map<std::string, std::pair<unix_ms, std::string>> stored_;  // the state file: id -> (last fire, job)
    std::vector<refused_fire> refused_;
    std::shared_ptr<scheduled_call> timer_;
    bool stopped_ = false;
    size_t in_flight_ = 0;  // submits not yet answered (their answers call back into this)
    std::condition_variable answered_;
    task_pool writer_{1, "td-periodic"};
};

}  // namespace ticketd
