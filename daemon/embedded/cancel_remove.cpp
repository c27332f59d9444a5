// embedded_backend::cancel() and remove(): a job stopped or deleted in whatever state it is.
#include "embedded/backend_detail.hpp"
#include "embedded/embedded_backend.hpp"
#include "jobs/transitions.hpp"

namespace ticketd {

using namespace embedded_detail;


void embedded_backend::cancel(const std::string& id, const caller& who,
                              std::function<void(cancel_outcome)> done) {
    std::unique_lock lock(mutex_);
    auto* found = table_.find(id);
    if (found == nullptr) {
        lock.unlock();
        store_.find(id, [who, done = std::move(done)](job_lookup found) {
            if (found.job && who.may_see(found.job->principal)) {
                const bool canceled = found.job->status == job_status::canceled;
                done({canceled ? cancel_status::canceled : cancel_status::already_terminal, std::move(found.job)});
            } else if (found.gone && who.may_see(found.gone_principal)) {
                done({cancel_status::gone, {}});
            } else {
                done({cancel_status::not_found, {}});
            }
        });
        return;
    }
    auto e = *found;
    auto answer = [&lock, &done](cancel_outcome out) {
        lock.unlock();  // callbacks never run under the lock
        done(std::move(out));
    };
    if (!who.may_see(e->record.principal)) return answer({cancel_status::not_found, {}});
    if (e->deleted) return answer({cancel_status::gone, {}});
    switch (e->record.status) {
        case job_status::canceled: return answer({cancel_status::canceled, e->record});
        case job_status::succeeded:
        case job_status::failed: return answer({cancel_status::already_terminal, e->record});
        case job_status::running: {
            // An attempt whose end is committing may be going back to the queue (a retry):
            // the cancel then applies once it is there.
            if (e->finalizing) e->cancel_after_commit = true;
            if (e->record.cancel_requested || e->finalizing) return answer({cancel_status::cancel_requested, e->record});
            e->record.cancel_requested = true;
            transitions::touch(e->record, now_());
            store_.update(e->record, [](bool ok, const std::string& error) {
                log_write_failure("cancel request", ok, error);
            });
            std::optional<claimed_attempt> attempt;
            if (e->control) attempt = attempt_of(e);
            auto wake = collect_waiters_locked(*e);
            const job_record copy = e->record;
            lock.unlock();
            if (attempt) host_->cancel_requested(*attempt);
            run_all(wake);
            done({cancel_status::cancel_requested, copy});
            return;
        }
        case job_status::scheduled:
        case job_status::queued: {
            if (e->finalizing) {  // a cancel of this queued job is committing already
                return answer({cancel_status::cancel_requested, e->record});
            }
            if (auto* q = queue_of_locked(e->record.type)) q->remove(e);
            job_record next = terminal(e->record, job_status::canceled,
                                       job_error{"job-canceled", "Job canceled", "canceled before it started"});
            next.cancel_requested = true;
            e->finalizing = true;
            store_.update(next, [this, e, next, done = std::move(done)](bool ok, const std::string& error) {
                std::unique_lock lock(mutex_);
                e->finalizing = false;
                if (!ok) {
                    log_error("store: cancel of " + job_tag(next) + " failed: " + error);
                    if (auto* q = queue_of_locked(next.type)) enqueue_locked(e, *q);
                    lock.unlock();
                    done({cancel_status::internal, {}});
                    return;
                }
                const uint64_t version = e->record.version;
                e->record = next;
                e->record.version = version + 1;
                finished_locked(e);
                auto wake = collect_waiters_locked(*e);
                const job_record copy = e->record;
                lock.unlock();
                run_all(wake);
                done({cancel_status::canceled, copy});
            });
            return;
        }
    }
}

void embedded_backend::remove(const std::string& id, const caller& who,
                              std::function<void(remove_status)> done) {
    std::unique_lock lock(mutex_);
    auto* found = table_.find(id);
    if (found == nullptr) {
        lock.unlock();
        store_.find(id, [this, id, who, done = std::move(done)](job_lookup found) {
            if (found.gone && who.may_see(found.gone_principal)) {
                done(remove_status::removed_terminal);  // DELETE again: 204
                return;
            }
            if (!found.job || !who.may_see(found.job->principal)) {
                done(remove_status::not_found);
                return;
            }
            const job_record r = *found.job;
            {
                std::lock_guard relock(mutex_);
                if (!r.idempotency_key.empty()) keys_.mark_deleted(r.principal, r.idempotency_key);
                removing_.insert(id);
            }
            const unix_ms now = now_();
            store_.remove({r.id, r.type, now, now + settings_.tombstone_ttl.count(), r.principal},
                          [this, id, done](bool ok, const std::string& error) {
                              log_write_failure("delete", ok, error);
                              if (ok) results_.remove(id);
                              forget_removing(id);
                              done(ok ? remove_status::removed_terminal : remove_status::internal);
                          });
        });
        return;
    }
    auto e = *found;
    if (!who.may_see(e->record.principal)) {
        lock.unlock();
        done(remove_status::not_found);
        return;
    }
    const bool live = !is_terminal(e->record.status);
    e->deleted = true;
    uncount_live_locked(*e);  // a deleted job no longer counts, even while its attempt stops
    table_.erase(id);
    uploads_.release(e->record.id, e->record.files);
    if (e->record.status == job_status::queued || e->record.status == job_status::scheduled) {
        if (auto* q = queue_of_locked(e->record.type)) q->remove(e);
    }
    if (e->control) e->control->request_stop(stop_reason::canceled);
    if (!e->record.idempotency_key.empty()) keys_.mark_deleted(e->record.principal, e->record.idempotency_key);
    removing_.insert(id);
    auto wake = collect_waiters_locked(*e);
    const job_record r = e->record;
    const unix_ms now = now_();
    store_.remove({r.id, r.type, now, now + settings_.tombstone_ttl.count(), r.principal},
                  [this, id, live, done = std::move(done)](bool ok, const std::string& error) {
                      log_write_failure("delete", ok, error);
                      if (ok) results_.remove(id);
                      forget_removing(id);
                      done(!ok ? remove_status::internal
                               : live ? remove_status::removed_live : remove_status::removed_terminal);
                  });
    lock.unlock();
    run_all(wake);
}

void embedded_backend::forget_removing(const std::string& id) {
    std::lock_guard lock(mutex_);
    removing_.erase(id);
}

}  // namespace ticketd
