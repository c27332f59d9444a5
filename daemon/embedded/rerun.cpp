// embedded_backend::rerun(): a failed or canceled job runs again (POST /v1/jobs/{id}/retry).
#include "embedded/backend_detail.hpp"
#include "embedded/embedded_backend.hpp"
#include "jobs/transitions.hpp"

namespace ticketd {

using namespace embedded_detail;

void embedded_backend::rerun(const std::string& id, const caller& who, uint64_t max_live_jobs,
                             std::function<void(rerun_outcome)> done) {
    // A finished job's input is not kept in memory (job_table::remember_finished): the
    // store's copy of the job is read first, memory decides its state.
    store_.find(id, [this, id, who, max_live_jobs, done = std::move(done)](job_lookup found) {
        std::unique_lock lock(mutex_);
        job_entry_ptr e;
        if (auto* in_memory = table_.find(id)) e = *in_memory;
        const std::string owner = e ? e->record.principal : found.job ? found.job->principal : found.gone_principal;
        const bool gone = e ? e->deleted : (!found.job && found.gone) || removing_.contains(id);
        if (!who.may_see(owner) || (!e && !found.job && !found.gone)) {
            lock.unlock();
            return done({rerun_status::not_found, {}, {}});
        }
        if (gone || !found.job) {  // deleted (in memory, or since the read)
            lock.unlock();
            return done({gone ? rerun_status::gone : rerun_status::not_found, {}, {}});
        }
        job_record current = e ? e->record : *found.job;
        current.input = std::move(found.job->input);
        rerun_locked(lock, std::move(e), std::move(current), max_live_jobs, done);
    });
}

void embedded_backend::rerun_locked(std::unique_lock<std::mutex>& lock, job_entry_ptr e, job_record current,
                                    uint64_t max_live_jobs,
                                    const std::function<void(rerun_outcome)>& done) {
    auto answer = [&lock, &done](rerun_status status, std::optional<job_record> job, std::string detail) {
        lock.unlock();  // callbacks never run under the lock
        done({status, std::move(job), std::move(detail)});
    };
    const bool ended = current.status == job_status::failed || current.status == job_status::canceled;
    if (!ended || (e && e->finalizing)) {
        return answer(rerun_status::not_rerunnable, current,
                      "the job is " + std::string(to_string(current.status)) +
                          "; only a failed or canceled job can run again");
    }
    // Retention's purge deletes a finished job's row once it has expired; a re-run's write
    // made just before a purge that was already under way would update a row that is
    // then gone. So a job about to expire is not re-run (a purge sees `now` when it is
    // asked for, and runs long before a minute has passed).
    if (constexpr int64_t purge_margin_ms = 60'000;
        current.expires_at != 0 && current.expires_at <= now_() + purge_margin_ms) {
        return answer(rerun_status::not_rerunnable, current,
                      "the job's retention ends at " + format_rfc3339(current.expires_at) +
                          ", within a minute: it is about to be purged; submit it again instead");
    }
    job_queue* q = queue_of_locked(current.type);
    if (q == nullptr || q->retired()) {
        return answer(rerun_status::unknown_type, current,
                      "job type '" + current.type + "' is not served by this ticketd (any more)");
    }
    if (!accepting_) return answer(rerun_status::unavailable, {}, "ticketd is shutting down");
    if (const auto live = live_.find(current.principal);
        max_live_jobs > 0 && live != live_.end() && live->second >= max_live_jobs) {
        return answer(rerun_status::over_quota, {},
                      "principal '" + current.principal + "' has " + std::to_string(max_live_jobs) +
                          " queued and running jobs, its quota (quotas: max_live_jobs); retry when some have finished");
    }
    if (!q->try_reserve()) {
        return answer(rerun_status::unavailable, {},
                      "the queue of job type '" + current.type + "' is full (" + std::to_string(q->capacity()) +
                          " jobs)");
    }
    if (!current.files.empty()) {
        const auto problems = uploads_.pin(current.id, current.principal, current.files, now_());
        if (!problems.empty()) {
            q->release_reservation();
            return answer(rerun_status::files_gone, current,
                          "its file '" + problems.front().first + "': " + problems.front().second +
                              "; submit a new job with a new upload");
        }
    }
    job_record next = current;
    const auto rules = host_->rules(current.type).value_or(job_type_rules{});
    transitions::rerun(next, now_(), rules.retry.history);
    next.version = current.version + 1;
    if (!e) {  // not in memory any more: it comes back
        e = std::make_shared<job_entry>();
        e->record = std::move(current);
        table_.put(e);
    }
    e->finalizing = true;  // no other change while this one commits
    count_live_locked(*e);
    store_.update(next, [this, e, next, q, done](bool ok, const std::string& error) {
        std::unique_lock lock(mutex_);
        e->finalizing = false;
        if (!ok) {
            log_error("store: re-run of " + job_tag(next) + " failed: " + error);
            q->release_reservation();
            uncount_live_locked(*e);
            uploads_.release(next.id, next.files);
            lock.unlock();
            done({rerun_status::internal, {}, "the re-run could not be stored; retry later"});
            return;
        }
        const uint64_t version = std::max(next.version, e->record.version + 1);
        e->record = next;
        e->record.version = version;
        q->push_reserved(e, next.priority, 0);
        auto wake = collect_waiters_locked(*e);
        const job_record copy = e->record;
        lock.unlock();
        q->wake_one();
        run_all(wake);
        done({rerun_status::requeued, copy, {}});
    });
}

}  // namespace ticketd
