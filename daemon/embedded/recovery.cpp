// embedded_backend::recover(): the crash rules, applied at startup to what the store and
// the attempt marks say the last process left behind.
#include "embedded/embedded_backend.hpp"

#include "jobs/transitions.hpp"
#include "system/log.hpp"
#include "system/random_id.hpp"

#include <future>

namespace ticketd {

void embedded_backend::recover() {
    const unix_ms now = now_();
    std::lock_guard lock(mutex_);  // nothing else runs yet; held for the queues and the table
    keys_.reserve(store_.count_bindings());
    store_.load_bindings([&](idempotency_binding&& b) { keys_.bind(b); });

    table_.reserve(store_.count_unfinished());
    // Attempts the last process started (marked before their plugin ran) and did not see
    // return: their `running` write may not have reached the journal. When one of them
    // ended the process (a crash or exit() on its thread), that attempt alone is charged:
    // the others were interrupted through no fault of their own and run again as they
    // were. When none did (kill -9, the OOM killer, a crash outside a plugin), every
    // interrupted attempt counts, so that no job can crash the daemon forever.
    const auto marked = marks_.left_over();
    std::string culprit;
    for (const auto& [id, m] : marked) {
        if (m.ended_process == 0) continue;
        culprit = id;
        log_error("recovery: job " + id + " attempt " + std::to_string(m.attempt) + " ended the process (" +
                  (m.ended_process == attempt_marks::exit_code_mark ? std::string("exit() in its plugin")
                                                                    : "signal " + std::to_string(m.ended_process)) +
                  "); only its attempt is counted");
    }
    std::vector<std::future<void>> writes;
    size_t loaded = 0, requeued = 0, retried = 0, interrupted = 0, by_mark = 0, spared = 0;
    store_.load_unfinished([&](job_record&& r) {
        ++loaded;
        if (!job_key_of(r.id)) {
            log_error("recovery: job '" + r.id + "' skipped: not a ticketd job id");
            return;
        }
        job_queue* queue = queue_of_locked(r.type);
        bool ran = r.status == job_status::running;
        if (!ran && r.status == job_status::queued && !marked.empty()) {
            const auto it = marked.find(r.id);
            ran = it != marked.end() && it->second.attempt == r.attempt;
            by_mark += ran;
        }
        if (ran && !culprit.empty() && r.id != culprit) {
            // Interrupted by another job's crash: queued again with the same attempt.
            transitions::requeue(r);
            ++spared;
        } else if (ran) {
            // The process died while this attempt ran: the attempt counts.
            const auto rules = host_->rules(r.type).value_or(job_type_rules{});
            const transitions::failed_attempt f(
                attempt_failure::interrupted,
                job_error{"job-interrupted", "Job interrupted",
                          "the daemon stopped while the job ran, " + std::to_string(r.attempt) + " of " +
                              std::to_string(rules.retry.max_attempts) + " attempts used"});
            std::optional<retry_reason> why;
            r = transitions::after_failure(r, rules.retry, f, now, rules.retention_ms, random_fraction(), why);
            if (why) {
                ++retried;
                if (queue && queue->events()) queue->events()->retried(*why);
            } else {
                ++interrupted;
                count_outcome_locked(r);
            }
        }
        if (ran) {
            r.updated_at = std::max(now, r.updated_at + 1);
            r.version += 1;
            auto done = std::make_shared<std::promise<void>>();
            writes.push_back(done->get_future());
            store_.update(r, [done, id = r.id](bool ok, const std::string& error) {
                if (!ok) log_error("store: recovery of job " + id + " failed: " + error);
                done->set_value();
            });
        }
        auto e = std::make_shared<job_entry>();
        e->record = std::move(r);
        table_.put(e);
        const job_record& stored = e->record;
        const bool waiting = stored.status == job_status::queued || stored.status == job_status::scheduled;
        if (waiting && !stored.files.empty()) {
            for (const auto& [name, problem] : uploads_.pin(stored.id, stored.principal, stored.files, 0)) {
                log_warning("recovery: job=" + stored.id + " type=" + stored.type + " file '" + name + "': " + problem);
            }
        }
        if (waiting) {
            count_live_locked(*e);
            if (queue) {
                enqueue_locked(e, *queue);
                ++requeued;
            } else {
                log_warning("recovery: job=" + stored.id + " type=" + stored.type +
                            " has no configured job type; it stays queued");
            }
        } else {
            table_.remember_finished(e);
        }
    });
    for (auto& w : writes) w.wait();
    marks_.forget_left_over();  // what they said is stored now
    log_info("recovery: " + std::to_string(loaded) + " unfinished jobs: " + std::to_string(requeued) +
             " queued (" + std::to_string(retried) + " interrupted and retried), " + std::to_string(interrupted) +
             " failed as interrupted" +
             (spared > 0 ? ", " + std::to_string(spared) + " requeued without using an attempt" : std::string()) +
             (by_mark > 0 ? " (" + std::to_string(by_mark) + " known to have started from their attempt mark only)"
                          : std::string()));
}

}  // namespace ticketd
