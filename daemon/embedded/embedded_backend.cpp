#include "embedded/embedded_backend.hpp"

#include "jobs/transitions.hpp"
#include "system/log.hpp"

#include <algorithm>
#include <future>
#include <stdexcept>

namespace ticketd {

namespace {

void run_all(std::vector<std::function<void()>>& fns) {
    for (auto& fn : fns) fn();
}

void log_write_failure(const std::string& what, bool ok, const std::string& error) {
    if (!ok) log_error("store: " + what + " failed: " + error);
}

std::string job_tag(const job_record& r) { return "job=" + r.id + " type=" + r.type; }

// A worker's seat: its attempt mark (none when the mark file could not be made: the
// worker's plugin runs then start after the fdatasync of their `running` state).
class embedded_seat final : public worker_seat {
   public:
    explicit embedded_seat(std::unique_ptr<attempt_marks::slot> mark) : mark(std::move(mark)) {}
    void bind_to_this_thread() override {
        if (mark) mark->bind_to_this_thread();
    }
    void returned() override {
        if (mark) mark->clear();
    }
    const std::unique_ptr<attempt_marks::slot> mark;
};

}  // namespace

embedded_backend::embedded_backend(settings s, job_store& store, upload_store& uploads, scheduler& timers,
                                   std::function<unix_ms()> now)
    : settings_(std::move(s)),
      store_(store),
      uploads_(uploads),
      timers_(timers),
      now_(std::move(now)),
      results_(settings_.state_dir / "results"),
      marks_(settings_.state_dir / "attempts"),
      table_(settings_.max_cached_jobs) {}

embedded_backend::~embedded_backend() { stop_accepting(); }

std::unique_ptr<work_queue> embedded_backend::make_queue(const std::string& type, uint64_t capacity,
                                                         job_type_events& events) {
    return std::make_unique<job_queue>(capacity, type, &events);
}

void embedded_backend::set_queues(const std::vector<work_queue*>& queues, const std::vector<retiring_queue>& retiring) {
    // Under the lock no accept can reserve a place in a queue meanwhile.
    std::lock_guard lock(mutex_);
    for (const auto& [queue, busy] : retiring) {
        auto& q = static_cast<job_queue&>(*queue);
        size_t unfinished = 0;
        table_.for_each([&](const job_entry_ptr& e) {
            if (e->record.type == q.type() && !e->deleted && !is_terminal(e->record.status)) ++unfinished;
        });
        unfinished += q.reserved();  // accepts still committing
        // A deleted job whose plugin has not returned yet still holds a worker.
        unfinished = std::max<size_t>(unfinished, busy);
        if (unfinished > 0) {
            throw std::runtime_error("job type '" + q.type() + "' has " + std::to_string(unfinished) +
                                     " unfinished jobs; it can be removed, or get another plugin, settings or "
                                     "validate_threads, only when it has none (wait, or cancel them)");
        }
    }
    for (const auto& [queue, busy] : retiring) static_cast<job_queue&>(*queue).set_retired();
    std::map<std::string, job_queue*> next;
    for (auto* queue : queues) next[queue->type()] = static_cast<job_queue*>(queue);
    for (const auto& [type, q] : next) {
        if (const auto it = queues_.find(type); it != queues_.end() && it->second == q) continue;
        // Jobs recovered at startup for a type that was not configured then run now.
        table_.for_each([&, q = q](const job_entry_ptr& e) {
            if (e->record.type == q->type() && e->record.status == job_status::queued && !e->deleted &&
                !e->finalizing) {
                q->push(e, e->record.priority, e->record.not_before);
            }
        });
    }
    queues_ = std::move(next);
}

job_queue* embedded_backend::queue_of_locked(const std::string& type) const {
    const auto it = queues_.find(type);
    return it == queues_.end() ? nullptr : it->second;
}

int64_t embedded_backend::retention_ms(const std::string& type) const {
    return host_->rules(type).value_or(job_type_rules{}).retention_ms;
}

job_record embedded_backend::terminal(const job_record& from, job_status status, std::optional<job_error> error) const {
    return transitions::terminal(from, status, std::move(error), now_(), retention_ms(from.type));
}

void embedded_backend::start() {
    attempt_marks::attribute_crashes();
    schedule_purge();
}

void embedded_backend::stop_accepting() {
    std::lock_guard lock(mutex_);
    accepting_ = false;
    if (purge_timer_) purge_timer_->cancel();
}

// ---------------------------------------------------------------------------------------
// Accept

void embedded_backend::accept(work_queue& queue, submit_request req, std::function<void(submit_outcome)> done) {
    auto& q = static_cast<job_queue&>(queue);
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
    if (!q.try_reserve()) {
        if (events) events->rejected(reject_reason::queue_full);
        return answer({submit_status::unavailable, {}, {},
                       "the queue of job type '" + req.type + "' is full (" + std::to_string(q.capacity()) + " jobs)",
                       {}});
    }
    const unix_ms now = now_();
    job_record r;
    auto identity = store_.new_job_id();
    r.seq = identity.seq;
    r.id = std::move(identity.id);
    if (!req.files.empty()) {
        auto problems = uploads_.pin(r.id, req.principal, req.files, now);
        if (!problems.empty()) {
            q.release_reservation();
            if (events) events->rejected(reject_reason::invalid_input);
            std::vector<validation_error> errors;
            for (auto& [name, detail] : problems) errors.push_back({"/files/" + name, std::move(detail)});
            return answer({submit_status::invalid_input, {}, std::move(errors), "unknown or expired upload", {}});
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
    r.input = std::move(req.input);
    r.labels = std::move(req.labels);
    std::optional<idempotency_binding> binding;
    if (keyed) {
        keys_.reserve(key_digest, req.fingerprint);
        binding = idempotency_binding{req.principal, req.idempotency_key, r.id, req.fingerprint, false,
                                      now + settings_.idempotency_ttl.count(), r.seq};
    }
    lock.unlock();
    store_.insert(r, binding, [this, &q, r, binding, key_digest, done](bool ok, const std::string& error) mutable {
        accept_committed(q, std::move(r), binding, key_digest, ok, error, done);
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

void embedded_backend::accept_committed(job_queue& queue, job_record record, std::optional<idempotency_binding> key,
                                        const idempotency_index::digest& key_digest, bool ok, const std::string& error,
                                        const std::function<void(submit_outcome)>& done) {
    auto* events = queue.events();
    if (!ok) {
        log_error("store: accept of " + job_tag(record) + " failed: " + error);
        {
            std::lock_guard lock(mutex_);
            if (key) keys_.release(key->principal, key->key);
        }
        uploads_.release(record.id, record.files);
        queue.release_reservation();
        if (events) events->rejected(reject_reason::store_error);
        done({submit_status::store_unavailable, {}, {},
              "the job could not be stored (the state directory cannot be written now); retry later with the same "
              "Idempotency-Key",
              {}});
        return;
    }
    auto e = std::make_shared<job_entry>();
    e->record = record;
    {
        std::lock_guard lock(mutex_);
        table_.put(e);
        if (key) keys_.bind(key_digest, *key);
        queue.push_reserved(e, record.priority, 0);
    }
    queue.wake_one();  // outside the lock, which the worker takes first
    if (events) events->submitted();
    done({submit_status::accepted, std::move(record), {}, {}, {}});
}

// ---------------------------------------------------------------------------------------
// Reads and long-polls

void embedded_backend::get(const std::string& id, const std::string& principal,
                           std::function<void(lookup_outcome)> done) {
    {
        std::unique_lock lock(mutex_);
        auto* found = table_.find(id);
        if (found != nullptr) {
            const auto& e = **found;
            lookup_outcome out;
            if (e.record.principal == principal) {
                if (e.deleted) out.gone = true;
                else out.job = e.record;
            }
            lock.unlock();  // callbacks never run under the lock
            done(std::move(out));
            return;
        }
    }
    store_.find(id, [principal, done = std::move(done)](job_lookup found) {
        if (found.job && found.job->principal != principal) found.job.reset();
        done({std::move(found.job), found.gone});
    });
}

std::optional<uint64_t> embedded_backend::watch(const std::string& id, const std::string& principal,
                                                const std::string& etag, std::chrono::milliseconds wait,
                                                std::function<void(lookup_outcome)> done) {
    std::unique_lock lock(mutex_);
    auto* found = table_.find(id);
    const bool satisfied =
        found == nullptr || (*found)->deleted || (*found)->record.principal != principal ||
        (etag.empty() ? is_terminal((*found)->record.status) : (*found)->record.etag() != etag);
    if (satisfied || wait.count() <= 0) {
        lock.unlock();
        get(id, principal, std::move(done));
        return 0;
    }
    if (waiters_.load() >= settings_.max_waiters) return std::nullopt;
    ++waiters_;
    const uint64_t waiter_id = ++next_waiter_id_;
    auto entry = *found;
    job_waiter w;
    w.etag = etag;
    w.wake = [this, done](const job_record* r, bool gone) {
        --waiters_;
        if (gone) done({std::nullopt, true});
        else done({r ? std::optional<job_record>(*r) : std::nullopt, false});
    };
    w.deadline = timers_.after(wait, [this, entry, waiter_id] {
        std::unique_lock lock(mutex_);
        auto found = entry->waiters.find(waiter_id);
        if (found == entry->waiters.end()) return;
        auto wake = std::move(found->second.wake);
        entry->waiters.erase(found);
        const job_record copy = entry->record;
        const bool gone = entry->deleted;
        lock.unlock();
        wake(&copy, gone);
    });
    entry->waiters.emplace(waiter_id, std::move(w));
    return waiter_id;
}

void embedded_backend::unwatch(const std::string& id, uint64_t waiter_id) {
    std::lock_guard lock(mutex_);
    auto* found = table_.find(id);
    if (found == nullptr) return;
    auto& waiters = (*found)->waiters;
    auto w = waiters.find(waiter_id);
    if (w == waiters.end()) return;
    if (w->second.deadline) w->second.deadline->cancel();
    waiters.erase(w);
    --waiters_;
}

embedded_backend::wake_list embedded_backend::collect_waiters_locked(job_entry& e) {
    wake_list out;
    for (auto it = e.waiters.begin(); it != e.waiters.end();) {
        auto& w = it->second;
        const bool satisfied = e.deleted || (w.etag.empty() ? is_terminal(e.record.status) : e.record.etag() != w.etag);
        if (!satisfied) {
            ++it;
            continue;
        }
        if (w.deadline) w.deadline->cancel();
        out.push_back([wake = std::move(w.wake), copy = e.record, gone = e.deleted] { wake(&copy, gone); });
        it = e.waiters.erase(it);
    }
    return out;
}

void embedded_backend::list(const job_query& query, std::function<void(std::vector<job_record>)> done) {
    store_.list(query, [this, done = std::move(done)](std::vector<job_record> rows) {
        {
            std::lock_guard lock(mutex_);
            std::vector<job_record> out;
            out.reserve(rows.size());
            for (auto& r : rows) {
                auto* found = table_.find(r.id);
                if (found == nullptr) {
                    out.push_back(std::move(r));
                } else if (!(*found)->deleted) {
                    out.push_back((*found)->record);
                    out.back().seq = r.seq;
                }
            }
            rows.swap(out);
        }
        done(std::move(rows));
    });
}

// ---------------------------------------------------------------------------------------
// Cancel and delete

void embedded_backend::cancel(const std::string& id, const std::string& principal,
                              std::function<void(cancel_outcome)> done) {
    std::unique_lock lock(mutex_);
    auto* found = table_.find(id);
    if (found == nullptr) {
        lock.unlock();
        store_.find(id, [principal, done = std::move(done)](job_lookup found) {
            if (found.job && found.job->principal == principal) {
                const bool canceled = found.job->status == job_status::canceled;
                done({canceled ? cancel_status::canceled : cancel_status::already_terminal, std::move(found.job)});
            } else if (found.gone) {
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
    if (e->record.principal != principal) return answer({cancel_status::not_found, {}});
    if (e->deleted) return answer({cancel_status::gone, {}});
    switch (e->record.status) {
        case job_status::canceled: return answer({cancel_status::canceled, e->record});
        case job_status::succeeded:
        case job_status::failed: return answer({cancel_status::already_terminal, e->record});
        case job_status::running: {
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
                    if (auto* q = queue_of_locked(next.type)) q->push(e, e->record.priority, 0);
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

void embedded_backend::remove(const std::string& id, const std::string& principal,
                              std::function<void(remove_status)> done) {
    std::unique_lock lock(mutex_);
    auto* found = table_.find(id);
    if (found == nullptr) {
        lock.unlock();
        store_.find(id, [this, id, principal, done = std::move(done)](job_lookup found) {
            if (found.gone) {
                done(remove_status::removed_terminal);  // DELETE again: 204
                return;
            }
            if (!found.job || found.job->principal != principal) {
                done(remove_status::not_found);
                return;
            }
            const job_record r = *found.job;
            {
                std::lock_guard relock(mutex_);
                if (!r.idempotency_key.empty()) keys_.mark_deleted(r.principal, r.idempotency_key);
            }
            const unix_ms now = now_();
            store_.remove({r.id, r.type, now, now + settings_.tombstone_ttl.count()},
                          [this, id, done](bool ok, const std::string& error) {
                              log_write_failure("delete", ok, error);
                              if (ok) results_.remove(id);
                              done(ok ? remove_status::removed_terminal : remove_status::internal);
                          });
        });
        return;
    }
    auto e = *found;
    if (e->record.principal != principal) {
        lock.unlock();
        done(remove_status::not_found);
        return;
    }
    const bool live = !is_terminal(e->record.status);
    e->deleted = true;
    table_.erase(id);
    uploads_.release(e->record.id, e->record.files);
    if (e->record.status == job_status::queued) {
        if (auto* q = queue_of_locked(e->record.type)) q->remove(e);
    }
    if (e->control) e->control->request_stop(stop_reason::canceled);
    if (!e->record.idempotency_key.empty()) keys_.mark_deleted(e->record.principal, e->record.idempotency_key);
    auto wake = collect_waiters_locked(*e);
    const job_record r = e->record;
    const unix_ms now = now_();
    store_.remove({r.id, r.type, now, now + settings_.tombstone_ttl.count()},
                  [this, id, live, done = std::move(done)](bool ok, const std::string& error) {
                      log_write_failure("delete", ok, error);
                      if (ok) results_.remove(id);
                      done(!ok ? remove_status::internal
                               : live ? remove_status::removed_live : remove_status::removed_terminal);
                  });
    lock.unlock();
    run_all(wake);
}

// ---------------------------------------------------------------------------------------
// Attempts

claimed_attempt embedded_backend::attempt_of(const job_entry_ptr& e) {
    claimed_attempt a;
    a.job = e->record;
    a.control = e->control;
    a.handle = e;
    return a;
}

std::unique_ptr<worker_seat> embedded_backend::open_seat(const std::string& type) {
    // Made here, not by the worker's thread, so that once the workers are started (before
    // the daemon says it is ready) every worker's mark file exists.
    std::unique_ptr<attempt_marks::slot> mark;
    try {
        mark = marks_.open_slot();
    } catch (const std::exception& e) {
        log_warning("worker of type " + type + ": " + e.what() +
                    "; its plugin runs start after the fdatasync of their 'running' state instead");
    }
    return std::make_unique<embedded_seat>(std::move(mark));
}

std::optional<claimed_attempt> embedded_backend::claim(work_queue& queue, worker_seat& seat) {
    auto& q = static_cast<job_queue&>(queue);
    auto* mark = static_cast<embedded_seat&>(seat).mark.get();
    while (auto e = q.pop()) {
        // Whatever the plugin does must be covered by the crash rules (a retry counts the
        // attempt): the attempt is marked before the plugin starts, or, without a mark, the
        // claim waits until "running" (with its attempt) is durable.
        std::shared_ptr<std::promise<void>> started;
        claimed_attempt attempt;
        {
            std::unique_lock lock(mutex_);
            auto& r = e->record;
            if (e->deleted || e->finalizing || r.status != job_status::queued) continue;
            if (!accepting_) continue;  // a drain: it stays queued in the store and runs after the restart
            transitions::start(r, now_());
            e->control = std::make_shared<run_control>();
            running_.insert(e);
            if (auto* events = q.events()) {
                events->started(static_cast<double>(r.started_at - std::max(r.created_at, r.not_before)) / 1000.0);
            }
            if (mark) {
                mark->mark(r.id, r.attempt);
                store_.update(r, [](bool ok, const std::string& error) { log_write_failure("start", ok, error); });
            } else {
                started = std::make_shared<std::promise<void>>();
                // Answered on the journal thread (a worker is not an io thread): no hand-off.
                store_.update(r, [started](bool ok, const std::string& error) {
                    log_write_failure("start", ok, error);
                    started->set_value();
                });
            }
            attempt = attempt_of(e);
            attempt.input_files = uploads_.paths(r.files);
            auto wake = collect_waiters_locked(*e);
            lock.unlock();
            run_all(wake);
        }
        if (started) started->get_future().wait();
        return attempt;
    }
    return std::nullopt;
}

void embedded_backend::progress(const claimed_attempt& attempt, double percent, std::string message) {
    const auto e = std::static_pointer_cast<job_entry>(attempt.handle);
    std::unique_lock lock(mutex_);
    if (e->control != attempt.control || e->finalizing || e->deleted) return;
    auto& r = e->record;
    percent = std::max(percent, r.progress_percent.value_or(0.0));
    if (r.progress_percent && static_cast<int>(percent) == static_cast<int>(*r.progress_percent) &&
        message == r.progress_message) {
        return;  // nothing a client would see changed
    }
    r.progress_percent = percent;
    r.progress_message = std::move(message);
    transitions::touch(r, now_());
    auto wake = collect_waiters_locked(*e);
    lock.unlock();
    run_all(wake);
}

bool embedded_backend::finish(const claimed_attempt& attempt, const next_state& next, std::optional<std::string> result,
                              std::function<void()> committed) {
    const auto e = std::static_pointer_cast<job_entry>(attempt.handle);
    std::unique_lock lock(mutex_);
    if (e->control != attempt.control || e->finalizing || e->deleted) {
        // Already finished for it (deleted, or the grace expired): nothing to write.
        if (e->control == attempt.control) {
            running_.erase(e);
            e->control.reset();
            idle_cv_.notify_all();
        }
        if (!e->deleted) log_warning(job_tag(attempt.job) + " plugin returned after the job had been finished without it");
        return false;
    }
    finalize_locked(e, next(e->record), std::move(result), std::move(committed));
    return true;
}

bool embedded_backend::finish_without_plugin(const claimed_attempt& attempt, const next_state& next) {
    const auto e = std::static_pointer_cast<job_entry>(attempt.handle);
    std::unique_lock lock(mutex_);
    if (e->control != attempt.control || e->finalizing || e->deleted) return false;
    finalize_locked(e, next(e->record), std::nullopt, {});
    return true;
}

void embedded_backend::finalize_locked(const job_entry_ptr& e, job_record next, std::optional<std::string> result,
                                       std::function<void()> then) {
    e->finalizing = true;
    next.version = e->record.version + 1;
    auto committed = [this, e, next, then = std::move(then)](bool ok, const std::string& error) {
        log_write_failure("finish of " + job_tag(next), ok, error);
        std::unique_lock lock(mutex_);
        running_.erase(e);
        e->control.reset();
        idle_cv_.notify_all();
        if (e->deleted) {  // the delete that follows this write removes the row
            if (is_terminal(next.status)) uploads_.release(next.id, next.files);
            lock.unlock();
            if (then) then();
            return;
        }
        // Keep the newest progress-bumped version ordering: never go backwards.
        const uint64_t version = std::max(next.version, e->record.version + 1);
        e->record = next;
        e->record.version = version;
        e->finalizing = false;
        // A drained job goes back to "queued" in memory only: the process is stopping and
        // the store has it queued for the next start.
        if (is_terminal(next.status)) finished_locked(e);
        auto wake = collect_waiters_locked(*e);
        lock.unlock();
        run_all(wake);
        if (then) then();
    };
    if (result) store_.update(next, std::move(*result), std::move(committed));
    else store_.update(next, std::move(committed));
}

void embedded_backend::finished_locked(const job_entry_ptr& e) {
    uploads_.release(e->record.id, e->record.files);
    count_outcome_locked(e->record);
    table_.remember_finished(e);
}

void embedded_backend::count_outcome_locked(const job_record& r) const {
    const auto* q = queue_of_locked(r.type);
    auto* events = q ? q->events() : nullptr;
    if (events == nullptr) return;
    const std::string code = r.error ? r.error->code : "";
    switch (r.status) {
        case job_status::succeeded: return events->completed(job_outcome::succeeded);
        case job_status::canceled: return events->completed(job_outcome::canceled);
        case job_status::failed:
            return events->completed(code == "job-timeout"       ? job_outcome::timeout
                                     : code == "job-interrupted" ? job_outcome::interrupted
                                                                 : job_outcome::failed);
        case job_status::queued:
        case job_status::running: return;
    }
}

std::vector<claimed_attempt> embedded_backend::running() const {
    std::lock_guard lock(mutex_);
    std::vector<claimed_attempt> out;
    for (const auto& e : running_) out.push_back(attempt_of(e));
    return out;
}

bool embedded_backend::wait_until_idle(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return idle_cv_.wait_for(lock, timeout, [&] { return running_.empty(); });
}

bool embedded_backend::requeue_for_restart(const claimed_attempt& attempt, std::function<void()> stored) {
    const auto e = std::static_pointer_cast<job_entry>(attempt.handle);
    std::lock_guard lock(mutex_);
    if (e->control != attempt.control || e->finalizing || e->deleted) return false;
    log_warning("drain: " + job_tag(e->record) + " ignored cancellation; requeued");
    job_record next = e->record;
    transitions::requeue(next);
    next.updated_at = now_();
    next.version += 1;
    e->finalizing = true;
    store_.update(next, [stored = std::move(stored)](bool ok, const std::string& error) {
        log_write_failure("drain requeue", ok, error);
        stored();
    });
    return true;
}

// ---------------------------------------------------------------------------------------
// Retention

void embedded_backend::schedule_purge() {
    std::lock_guard lock(mutex_);
    if (!accepting_) return;
    purge_timer_ = timers_.after(settings_.purge_interval, [this] { purge(); });
}

void embedded_backend::purge() {
    try {
        uploads_.purge(now_());
    } catch (const std::exception& e) {  // the jobs' purge, and the next round, still run
        log_error(std::string("retention: purging uploads failed: ") + e.what());
    }
    store_.purge(now_(), settings_.tombstone_ttl.count(), [this](purge_report report) {
        {
            std::lock_guard lock(mutex_);
            table_.forget_purged(report.purged_job_ids);
            for (const auto& k : report.expired_keys) keys_.erase(k.principal, k.key);
            if (!accepting_) return;
        }
        for (const auto& id : report.purged_job_ids) results_.remove(id);
        if (!report.purged_job_ids.empty() || !report.expired_keys.empty()) {
            log_info("retention: purged " + std::to_string(report.purged_job_ids.size()) + " jobs and " +
                     std::to_string(report.expired_keys.size()) + " idempotency keys");
        }
        schedule_purge();
    });
}

}  // namespace ticketd
