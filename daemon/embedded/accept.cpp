// embedded_backend::accept(): a validated submit made durable, with its idempotency key.
#include "embedded/backend_detail.hpp"
#include "embedded/embedded_backend.hpp"
#include "jobs/transitions.hpp"

namespace ticketd {

using namespace embedded_detail;


void embedded_backend::accept(std::shared_ptr<work_queue> queue, submit_request req,
                              std::function<void(submit_outcome)> done) {
    const auto shared = std::static_pointer_cast<job_queue>(std::move(queue));
    auto& q = *shared;
    auto* events = q.events();
    const bool keyed = !req.idempotency_key.empty();
    const auto key_digest = keyed ? idempotency_index::key_of(req.principal, req.idempotency_key)
                                  : idempotency_index::digest{};
    std::unique_lock lock(mutex_);
    auto answer = [&lock, &done](submit_outcome out) {
        lock.unlock();  // callbacks never run under the lock
        done(std::move(out));
    };
    if (keyed) {
        if (const auto k = keys_.find(key_digest, req.fingerprint)) {
            if (k->committing) {
                return answer({submit_status::key_in_progress, {}, {}, "a request with this key is being processed", {}});
            }
            // Bound (a retry, or a misuse of the key): which job is read from the store,
            // the index in memory does not keep job ids (it holds every live key).
            const bool same_request = k->same_request, job_deleted = k->job_deleted;
            lock.unlock();
            store_.find_key(k->seq, [this, same_request, job_deleted, done](std::optional<std::string> bound) {
                answer_bound_key(same_request, job_deleted, std::move(bound), done);
            });
            return;
        }
    }
    if (q.retired()) {  // a reload took the type out, or replaced it, while the input was validated
        return answer({submit_status::unavailable, {}, {}, "the job type '" + req.type + "' was just reloaded; retry", {}});
    }
    if (!accepting_) {  // a drain began while the input was validated
        if (events) events->rejected(reject_reason::unavailable);
        return answer({submit_status::unavailable, {}, {}, "ticketd is shutting down", {}});
    }
    if (const auto live = live_.find(req.principal);
        req.max_live_jobs > 0 && live != live_.end() && live->second >= req.max_live_jobs) {
        if (events) events->rejected(reject_reason::over_quota);
        return answer({submit_status::over_quota, {}, {},
                       "principal '" + req.principal + "' has " + std::to_string(req.max_live_jobs) +
                           " queued and running jobs, its quota (quotas: max_live_jobs); retry when some have finished",
                       {}});
    }
    const unix_ms now = now_();
    const bool scheduled = req.run_at > now;  // waits apart: no place in the queue yet
    if (!scheduled && !q.try_reserve()) {
        if (events) events->rejected(reject_reason::queue_full);
        return answer({submit_status::unavailable, {}, {},
                       "the queue of job type '" + req.type + "' is full (" + std::to_string(q.capacity()) + " jobs)",
                       {}});
    }
    if (scheduled && !q.try_reserve_scheduled(req.schedule_capacity)) {
        if (events) events->rejected(reject_reason::queue_full);
        return answer({submit_status::unavailable, {}, {},
                       "job type '" + req.type + "' has " + std::to_string(req.schedule_capacity) +
                           " scheduled jobs, its schedule_capacity",
                       {}});
    }
    job_record r;
    auto identity = store_.new_job_id();
    r.seq = identity.seq;
    r.id = std::move(identity.id);
    if (!req.files.empty()) {
        auto problems = uploads_.pin(r.id, req.principal, req.files, now, req.declared_files.get());
        if (!problems.empty()) {
            scheduled ? q.release_scheduled_reservation() : q.release_reservation();
            if (events) events->rejected(reject_reason::invalid_input);
            std::vector<validation_error> errors;
            for (auto& [name, detail] : problems) errors.push_back({"/files/" + name, std::move(detail)});
            return answer(
                {submit_status::invalid_input, {}, std::move(errors), "unknown, expired or unsuitable upload", {}});
        }
        r.files = std::move(req.files);
    }
    r.type = req.type;
    r.principal = req.principal;
    r.idempotency_key = req.idempotency_key;
    r.priority = req.priority;
    r.timeout_ms = req.timeout_ms;
    r.created_at = now;
    r.updated_at = now;
    if (scheduled) {
        r.status = job_status::scheduled;
        r.not_before = req.run_at;
    }
    r.input = std::move(req.input);
    r.labels = std::move(req.labels);
    ++live_[r.principal];  // held from now: a concurrent accept sees it
    std::optional<idempotency_binding> binding;
    if (keyed) {
        keys_.reserve(key_digest, req.fingerprint);
        binding = idempotency_binding{req.principal, req.idempotency_key, r.id, req.fingerprint, false,
                                      now + settings_.idempotency_ttl.count(), r.seq};
    }
    lock.unlock();
    store_.insert(r, binding, [this, shared, r, binding, key_digest, done](bool ok, const std::string& error) mutable {
        accept_committed(shared, std::move(r), binding, key_digest, ok, error, done);
    });
}

void embedded_backend::answer_bound_key(bool same_request, bool job_deleted, std::optional<std::string> bound,
                                        const std::function<void(submit_outcome)>& done) {
    if (!bound) {  // purged since the lookup in memory: the next try makes a new job
        done({submit_status::key_in_progress, {}, {}, "the key is being released; retry", {}});
        return;
    }
    const std::string& job_id = *bound;
    if (!same_request) {
        done({submit_status::key_reused, {}, {}, "the key was used for a different request", job_id});
        return;
    }
    if (job_deleted) {
        done({submit_status::key_job_deleted, {}, {}, "the key's job was deleted", job_id});
        return;
    }
    {
        std::unique_lock lock(mutex_);
        auto* found = table_.find(job_id);
        if (found != nullptr && !(*found)->deleted) {
            submit_outcome out{submit_status::replayed, (*found)->record, {}, {}, job_id};
            lock.unlock();
            done(std::move(out));
            return;
        }
    }
    store_.find(job_id, [done, job_id](job_lookup found) {
        if (found.job) done({submit_status::replayed, std::move(found.job), {}, {}, job_id});
        else done({submit_status::key_job_deleted, {}, {}, "the key's job is gone", job_id});
    });
}

void embedded_backend::accept_committed(const std::shared_ptr<job_queue>& shared, job_record record, std::optional<idempotency_binding> key,
                                        const idempotency_index::digest& key_digest, bool ok, const std::string& error,
                                        const std::function<void(submit_outcome)>& done) {
    job_queue& queue = *shared;
    auto* events = queue.events();
    if (!ok) {
        log_error("store: accept of " + job_tag(record) + " failed: " + error);
        {
            std::lock_guard lock(mutex_);
            if (key) keys_.release(key->principal, key->key);
            release_live_locked(record.principal);
        }
        uploads_.release(record.id, record.files);
        if (record.status == job_status::scheduled) queue.release_scheduled_reservation();
        else queue.release_reservation();
        if (events) events->rejected(reject_reason::store_error);
        done({submit_status::store_unavailable, {}, {},
              "the job could not be stored (the state directory cannot be written now); retry later with the same "
              "Idempotency-Key",
              {}});
        return;
    }
    auto e = std::make_shared<job_entry>();
    e->record = record;
    e->counted_live = true;  // counted when it was reserved
    {
        std::lock_guard lock(mutex_);
        table_.put(e);
        if (key) keys_.bind(key_digest, *key);
        if (record.status == job_status::scheduled) {
            // Its place was reserved in the scheduled set of `queue`, which a reload may have
            // replaced meanwhile: then it goes to the new one, past its bound if need be.
            if (!queue.retired()) {
                queue.schedule_reserved(e, record.not_before);
                arm_promotion_locked(record.not_before);
            } else {
                queue.release_scheduled_reservation();
                if (job_queue* now = queue_of_locked(record.type)) schedule_locked(e, *now);
            }
        } else {
            queue.push_reserved(e, record.priority, 0);
        }
    }
    queue.wake_one();  // outside the lock, which the worker takes first
    if (events) events->submitted();
    done({submit_status::accepted, std::move(record), {}, {}, {}});
}

}  // namespace ticketd
