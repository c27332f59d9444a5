#include "jobs/job_engine.hpp"
#include "jobs/transitions.hpp"
#include "system/threads.hpp"

#include "system/log.hpp"

#include <algorithm>
#include <future>
#include <map>

namespace ticketd {

namespace {

using std::chrono::milliseconds;

void run_all(std::vector<std::function<void()>>& fns) {
    for (auto& fn : fns) fn();
}

void log_write_failure(const std::string& what, bool ok, const std::string& error) {
    if (!ok) log_error("store: " + what + " failed: " + error);
}

std::string job_tag(const job_record& r) { return "job=" + r.id + " type=" + r.type; }

}  // namespace

job_engine::job_engine(const daemon_config& config, job_store& store, upload_store& uploads, scheduler& timers,
                       std::vector<job_type_ptr> types)
    : config_(config),
      store_(store),
      uploads_(uploads),
      timers_(timers),
      results_(config.state_dir / "results"),
      marks_(config.state_dir / "attempts"),
      types_(std::move(types)) {
    // Scratch directories of attempts a crash interrupted: nobody needs them any more.
    std::error_code ec;
    std::filesystem::remove_all(config_.state_dir / "scratch", ec);
    std::filesystem::create_directories(config_.state_dir / "scratch");
}

job_engine::~job_engine() {
    for (auto& rt : types_snapshot()) rt->validations->stop();  // their tasks use the engine
    {
        std::lock_guard lock(mutex_);
        draining_ = true;
        if (purge_timer_) purge_timer_->cancel();
    }
    const auto types = types_snapshot();
    for (auto& rt : types) rt->queue->close();
    for (auto& rt : types) {
        for (auto& t : rt->take_workers()) {
            if (t.joinable()) t.join();
        }
    }
}

job_type_ptr job_engine::find_type(const std::string& type) const {
    std::shared_lock lock(types_mutex_);
    for (const auto& rt : types_) {
        if (rt->type == type) return rt;
    }
    return nullptr;
}

std::vector<job_type_ptr> job_engine::types_snapshot() const {
    std::shared_lock lock(types_mutex_);
    return types_;
}

void job_engine::start_workers(const job_type_ptr& rt, unsigned count) {
    // Workers hold a plain pointer: whoever removes a type joins them before letting go.
    // Their attempt marks are made here, not by the threads, so that once this returns
    // (before the daemon says it is ready) every worker's mark file exists.
    for (unsigned i = 0; i < count; ++i) {
        std::unique_ptr<attempt_marks::slot> mark;
        try {
            mark = marks_.open_slot();
        } catch (const std::exception& e) {
            log_warning("worker of type " + rt->type + ": " + e.what() +
                        "; its plugin runs start after the fdatasync of their 'running' state instead");
        }
        std::lock_guard lock(rt->workers_mutex);
        rt->workers.emplace_back([this, r = rt.get(), mark = std::move(mark)] {
            name_this_thread("td-w-" + r->type);
            run_this_thread_as_batch();
            if (mark) mark->bind_to_this_thread();
            run_or_fail_stop("worker", [&] { worker_loop(*r, mark.get()); });
        });
    }
}

int64_t job_engine::retention_ms(const std::string& type) const {
    if (auto rt = find_type(type)) return rt->config()->retention.count();
    return job_type_config{}.retention.count();
}

// ---------------------------------------------------------------------------------------
// Startup and shutdown

void job_engine::recover() {
    const unix_ms now = now_unix_ms();
    keys_.reserve(store_.count_bindings());
    store_.load_bindings([&](idempotency_binding&& b) { keys_.bind(b); });

    jobs_.reserve(store_.count_unfinished());
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
    job_type_ptr rt;  // of the previous job: most jobs in a row share their type
    store_.load_unfinished([&](job_record&& r) {
        ++loaded;
        const auto key = job_key_of(r.id);
        if (!key) {
            log_error("recovery: job '" + r.id + "' skipped: not a ticketd job id");
            return;
        }
        if (!rt || rt->type != r.type) rt = find_type(r.type);
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
            const unsigned max_attempts = rt ? rt->config()->max_attempts : 1;
            if (r.attempt >= max_attempts) {
                r = terminal_record(r, job_status::failed,
                                    job_error{"job-interrupted", "Job interrupted",
                                              "the daemon stopped while the job ran, " +
                                                  std::to_string(r.attempt) + " of " +
                                                  std::to_string(max_attempts) + " attempts used"});
                ++interrupted;
                count_outcome(r);
            } else {
                transitions::retry(r, now, rt->config()->retry_backoff.count());
                ++retried;
                rt->events->retried();
            }
        }
        if (ran) {
            r.updated_at = std::max(now, r.updated_at + 1);
            r.version += 1;
            auto done = std::make_shared<std::promise<void>>();
            writes.push_back(done->get_future());
            store_.update(r, [done, id = r.id](bool ok, const std::string& error) {
                log_write_failure("recovery of job " + id, ok, error);
                done->set_value();
            });
        }
        auto e = std::make_shared<job_entry>();
        e->record = std::move(r);
        jobs_.emplace(*key, e);
        const job_record& stored = e->record;
        if (stored.status == job_status::queued && !stored.files.empty()) {
            for (const auto& [name, problem] : uploads_.pin(stored.id, stored.principal, stored.files, 0)) {
                log_warning("recovery: " + job_tag(stored) + " file '" + name + "': " + problem);
            }
        }
        if (stored.status == job_status::queued) {
            if (rt) {
                rt->queue->push(e, stored.priority, stored.not_before);
                ++requeued;
            } else {
                log_warning("recovery: " + job_tag(stored) + " has no configured job type; it stays queued");
            }
        } else {
            remember_terminal_locked(e);
        }
    });
    for (auto& w : writes) w.wait();
    marks_.forget_left_over();  // what they said is stored now
    log_info("recovery: " + std::to_string(loaded) + " unfinished jobs: " + std::to_string(requeued) +
             " queued (" + std::to_string(retried) + " interrupted and retried), " +
             std::to_string(interrupted) + " failed as interrupted" +
             (spared > 0 ? ", " + std::to_string(spared) + " requeued without using an attempt" : std::string()) +
             (by_mark > 0 ? " (" + std::to_string(by_mark) + " known to have started from their attempt mark only)"
                          : std::string()));
}

void job_engine::start() {
    attempt_marks::attribute_crashes();
    for (auto& rt : types_snapshot()) start_workers(rt, rt->config()->workers);
    accepting_ = true;
    schedule_purge();
}

bool job_engine::drain() {
    accepting_ = false;
    for (auto& rt : types_snapshot()) rt->validations->stop();  // what is being validated is answered (503) first
    {
        std::lock_guard lock(mutex_);
        draining_ = true;
    }
    std::unique_lock lock(mutex_);
    if (purge_timer_) purge_timer_->cancel();
    lock.unlock();
    const auto types = types_snapshot();
    for (auto& rt : types) rt->queue->close();

    lock.lock();
    if (!running_.empty()) {
        log_info("drain: waiting up to " + std::to_string(config_.drain_timeout.count()) + " ms for " +
                 std::to_string(running_.size()) + " running jobs");
    }
    idle_cv_.wait_for(lock, config_.drain_timeout, [&] { return running_.empty(); });
    if (!running_.empty()) {
        log_info("drain: canceling " + std::to_string(running_.size()) +
                 " running jobs; they will run again after the restart");
        for (const auto& e : running_) {
            if (e->control) e->control->request_stop(stop_reason::drain);
        }
        idle_cv_.wait_for(lock, config_.cancel_grace, [&] { return running_.empty(); });
    }
    // Plugins that ignore cancellation: store their jobs as queued anyway.
    std::vector<std::future<void>> writes;
    for (const auto& e : std::set<job_entry_ptr>(running_)) {
        if (e->finalizing || e->deleted) continue;
        log_warning("drain: " + job_tag(e->record) + " ignored cancellation; requeued");
        job_record next = e->record;
        transitions::requeue(next);
        next.updated_at = now_unix_ms();
        next.version += 1;
        e->finalizing = true;
        auto done = std::make_shared<std::promise<void>>();
        writes.push_back(done->get_future());
        store_.update(next, [done](bool ok, const std::string& error) {
            log_write_failure("drain requeue", ok, error);
            done->set_value();
        });
    }
    lock.unlock();
    for (auto& w : writes) w.wait();
    // Workers still inside a plugin (which ignored the stop request) cannot be joined.
    bool all_stopped = true;
    for (const auto& rt : types) all_stopped = all_stopped && rt->busy.load() == 0;
    if (all_stopped) {
        for (auto& rt : types) {
            for (auto& t : rt->take_workers()) {
                if (t.joinable()) t.join();
            }
        }
    }
    return all_stopped;
}

// ---------------------------------------------------------------------------------------
// Submit

void job_engine::submit(submit_request req, std::function<void(submit_outcome)> done) {
    const auto rt = find_type(req.type);
    if (rt == nullptr) {
        done({submit_status::unknown_type, {}, {}, "no job type named '" + req.type + "'", {}});
        return;
    }
    if (!accepting_) {
        rt->events->rejected(reject_reason::unavailable);
        done({submit_status::unavailable, {}, {}, "ticketd is starting or shutting down", {}});
        return;
    }
    const auto type_config = rt->config();
    if (req.input.size() > type_config->max_input_bytes) {
        rt->events->rejected(reject_reason::invalid_input);
        done({submit_status::invalid_input,
              {},
              {{"/input", "the input is " + std::to_string(req.input.size()) + " bytes; the job type '" +
                              req.type + "' accepts at most " + std::to_string(type_config->max_input_bytes)}},
              "input too large",
              {}});
        return;
    }
    // A plugin's validate() should be quick and do no I/O, but nothing makes it so: it
    // runs off the io threads, which a slow one would otherwise hold with every
    // connection on them.
    rt->validations->post([this, rt, req = std::move(req), done = std::move(done)]() mutable {
        // What a bug throws costs this submit a 500, as it would on an io thread, not the
        // daemon (a validation thread has no request handler around it).
        try {
            validate_and_accept(rt, std::move(req), done);
        } catch (const std::exception& e) {
            log_error("submit of type " + rt->type + " failed: " + e.what());
            done({submit_status::internal, {}, {}, "the submit failed inside ticketd; it was logged", {}});
        }
    });
}

void job_engine::validate_and_accept(const job_type_ptr& rt, submit_request req,
                                     const std::function<void(submit_outcome)>& done) {
    if (!accepting_) {  // a drain began: nothing more is validated
        rt->events->rejected(reject_reason::unavailable);
        return done({submit_status::unavailable, {}, {}, "ticketd is shutting down", {}});
    }
    auto errors = rt->handler->validate(req.input);
    if (!errors.empty()) {
        rt->events->rejected(reject_reason::invalid_input);
        for (auto& e : errors) e.pointer = "/input" + e.pointer;
        done({submit_status::invalid_input, {}, std::move(errors), "the input is not valid for this job type", {}});
        return;
    }

    const bool keyed = !req.idempotency_key.empty();
    const auto key_digest = keyed ? idempotency_index::key_of(req.principal, req.idempotency_key)
                                  : idempotency_index::digest{};
    std::unique_lock lock(mutex_);
    std::optional<idempotency_binding> binding;
    auto answer = [&lock, &done](submit_outcome out) {
        lock.unlock();  // callbacks never run under the engine's lock
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
    if (rt->removed) {  // a reload took the type out, or replaced it, while the input was validated
        return answer({submit_status::unavailable, {}, {}, "the job type '" + req.type + "' was just reloaded; retry", {}});
    }
    if (!accepting_) {  // a drain began while the input was validated
        rt->events->rejected(reject_reason::unavailable);
        return answer({submit_status::unavailable, {}, {}, "ticketd is shutting down", {}});
    }
    if (!rt->queue->try_reserve()) {
        rt->events->rejected(reject_reason::queue_full);
        return answer({submit_status::unavailable, {}, {},
                       "the queue of job type '" + req.type + "' is full (" +
                           std::to_string(rt->queue->capacity()) + " jobs)",
                       {}});
    }
    const unix_ms now = now_unix_ms();
    job_record r;
    auto identity = store_.new_job_id();
    r.seq = identity.seq;
    r.id = std::move(identity.id);
    if (!req.files.empty()) {
        auto problems = uploads_.pin(r.id, req.principal, req.files, now);
        if (!problems.empty()) {
            rt->queue->release_reservation();
            rt->events->rejected(reject_reason::invalid_input);
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
    if (keyed) {
        keys_.reserve(key_digest, req.fingerprint);
        binding = idempotency_binding{req.principal, req.idempotency_key, r.id, req.fingerprint, false,
                                      now + config_.idempotency_ttl.count(), r.seq};
    }
    lock.unlock();
    store_.insert(r, binding,
                  [this, rt, r, binding, key_digest, done](bool ok, const std::string& error) mutable {
                      accept_committed(*rt, std::move(r), binding, key_digest, ok, error, done);
                  });
}

void job_engine::answer_bound_key(bool same_request, bool job_deleted, std::optional<std::string> bound,
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
        auto* found = find_job_locked(job_id);
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

void job_engine::accept_committed(job_type_runtime& rt, job_record record,
                                  std::optional<idempotency_binding> key,
                                  const idempotency_index::digest& key_digest, bool ok,
                                  const std::string& error,
                                  const std::function<void(submit_outcome)>& done) {
    if (!ok) {
        log_error("store: accept of " + job_tag(record) + " failed: " + error);
        {
            std::lock_guard lock(mutex_);
            if (key) keys_.release(key->principal, key->key);
        }
        uploads_.release(record.id, record.files);
        rt.queue->release_reservation();
        rt.events->rejected(reject_reason::store_error);
        done({submit_status::store_unavailable, {}, {},
              "the job could not be stored (the state directory cannot be written now); retry later with the same "
              "Idempotency-Key",
              {}});
        return;
    }
    auto e = std::make_shared<job_entry>();
    e->record = record;
    const auto job_key = *job_key_of(record.id);  // made by the store: 32 hex digits
    {
        std::lock_guard lock(mutex_);
        jobs_[job_key] = e;
        if (key) keys_.bind(key_digest, *key);
        rt.queue->push_reserved(e, record.priority, 0);
    }
    rt.queue->wake_one();  // outside the engine's lock, which the worker takes first
    rt.events->submitted();
    done({submit_status::accepted, std::move(record), {}, {}, {}});
}

// ---------------------------------------------------------------------------------------
// Reads and long-polls

void job_engine::get(const std::string& id, const std::string& principal,
                     std::function<void(lookup_outcome)> done) {
    {
        std::unique_lock lock(mutex_);
        auto* found = find_job_locked(id);
        if (found != nullptr) {
            const auto& e = **found;
            lookup_outcome out;
            if (e.record.principal == principal) {
                if (e.deleted) out.gone = true;
                else out.job = e.record;
            }
            lock.unlock();  // callbacks never run under the engine's lock
            done(std::move(out));
            return;
        }
    }
    store_.find(id, [principal, done = std::move(done)](job_lookup found) {
        if (found.job && found.job->principal != principal) found.job.reset();
        done({std::move(found.job), found.gone});
    });
}

std::optional<uint64_t> job_engine::watch(const std::string& id, const std::string& principal,
                                          const std::string& etag, milliseconds wait,
                                          std::function<void(lookup_outcome)> done) {
    std::unique_lock lock(mutex_);
    auto* found = find_job_locked(id);
    const bool satisfied =
        found == nullptr || (*found)->deleted || (*found)->record.principal != principal ||
        (etag.empty() ? is_terminal((*found)->record.status) : (*found)->record.etag() != etag);
    if (satisfied || wait.count() <= 0) {
        lock.unlock();
        get(id, principal, std::move(done));
        return 0;
    }
    if (waiters_.load() >= config_.server.max_waiters) return std::nullopt;
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

void job_engine::unwatch(const std::string& id, uint64_t waiter_id) {
    std::lock_guard lock(mutex_);
    auto* found = find_job_locked(id);
    if (found == nullptr) return;
    auto& waiters = (*found)->waiters;
    auto w = waiters.find(waiter_id);
    if (w == waiters.end()) return;
    if (w->second.deadline) w->second.deadline->cancel();
    waiters.erase(w);
    --waiters_;
}

std::vector<std::function<void()>> job_engine::collect_waiters_locked(job_entry& e) {
    std::vector<std::function<void()>> out;
    for (auto it = e.waiters.begin(); it != e.waiters.end();) {
        auto& w = it->second;
        const bool satisfied = e.deleted || (w.etag.empty() ? is_terminal(e.record.status)
                                                            : e.record.etag() != w.etag);
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

void job_engine::list(const job_query& query, std::function<void(std::vector<job_record>)> done) {
    store_.list(query, [this, done = std::move(done)](std::vector<job_record> rows) {
        {
            std::lock_guard lock(mutex_);
            std::vector<job_record> out;
            out.reserve(rows.size());
            for (auto& r : rows) {
                auto* found = find_job_locked(r.id);
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

void job_engine::cancel(const std::string& id, const std::string& principal,
                        std::function<void(cancel_outcome)> done) {
    std::unique_lock lock(mutex_);
    auto* found = find_job_locked(id);
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
        lock.unlock();  // callbacks never run under the engine's lock
        done(std::move(out));
    };
    if (e->record.principal != principal) return answer({cancel_status::not_found, {}});
    if (e->deleted) return answer({cancel_status::gone, {}});
    switch (e->record.status) {
        case job_status::canceled: return answer({cancel_status::canceled, e->record});
        case job_status::succeeded:
        case job_status::failed: return answer({cancel_status::already_terminal, e->record});
        case job_status::running: {
            if (!e->record.cancel_requested && !e->finalizing) {
                e->record.cancel_requested = true;
                transitions::touch(e->record, now_unix_ms());
                store_.update(e->record, [](bool ok, const std::string& error) {
                    log_write_failure("cancel request", ok, error);
                });
                if (e->control) {
                    auto control = e->control;
                    control->request_stop(stop_reason::canceled);
                    timers_.after(config_.cancel_grace, [this, e, control] { force_finish(e, control); });
                }
                auto wake = collect_waiters_locked(*e);
                const job_record copy = e->record;
                lock.unlock();
                run_all(wake);
                done({cancel_status::cancel_requested, copy});
                return;
            }
            return answer({cancel_status::cancel_requested, e->record});
        }
        case job_status::queued: {
            if (e->finalizing) {  // a cancel of this queued job is committing already
                return answer({cancel_status::cancel_requested, e->record});
            }
            if (auto rt = find_type(e->record.type)) rt->queue->remove(e);
            job_record next = terminal_record(e->record, job_status::canceled,
                                              job_error{"job-canceled", "Job canceled",
                                                        "canceled before it started"});
            next.cancel_requested = true;
            e->finalizing = true;
            store_.update(next, [this, e, next, done = std::move(done)](bool ok, const std::string& error) {
                std::unique_lock lock(mutex_);
                e->finalizing = false;
                if (!ok) {
                    log_error("store: cancel of " + job_tag(next) + " failed: " + error);
                    if (auto rt = find_type(next.type)) rt->queue->push(e, e->record.priority, 0);
                    lock.unlock();
                    done({cancel_status::internal, {}});
                    return;
                }
                const uint64_t version = e->record.version;
                e->record = next;
                e->record.version = version + 1;
                uploads_.release(next.id, next.files);
                remember_terminal_locked(e);
                count_outcome(next);
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

void job_engine::remove(const std::string& id, const std::string& principal,
                        std::function<void(remove_status)> done) {
    std::unique_lock lock(mutex_);
    auto* found = find_job_locked(id);
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
            store_.remove({r.id, r.type, now_unix_ms(), now_unix_ms() + config_.tombstone_ttl.count()},
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
    erase_job_locked(id);
    uploads_.release(e->record.id, e->record.files);
    if (e->record.status == job_status::queued) {
        if (auto rt = find_type(e->record.type)) rt->queue->remove(e);
    }
    if (e->control) e->control->request_stop(stop_reason::canceled);
    if (!e->record.idempotency_key.empty()) keys_.mark_deleted(e->record.principal, e->record.idempotency_key);
    auto wake = collect_waiters_locked(*e);
    const job_record r = e->record;
    store_.remove({r.id, r.type, now_unix_ms(), now_unix_ms() + config_.tombstone_ttl.count()},
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
// Running jobs

void job_engine::worker_loop(job_type_runtime& rt, attempt_marks::slot* mark) {
    while (auto e = rt.queue->pop()) {
        rt.busy++;
        const bool abandoned = run_attempt(rt, e, mark);
        rt.busy--;
        if (abandoned) {  // its replacement serves the pool now
            rt.events->worker_abandoned(-1);
            log_info("worker of type " + rt.type + ": the plugin it was abandoned in returned; the worker leaves");
            return;
        }
    }
}

bool job_engine::run_attempt(job_type_runtime& rt, const job_entry_ptr& e, attempt_marks::slot* mark) {
    job_context ctx;
    std::string input_json;
    int64_t timeout_ms = 0;
    // Whatever the plugin does must be covered by the crash rules (a retry counts the
    // attempt): the attempt is marked before the plugin starts, or, without a mark, the
    // plugin waits until "running" (with its attempt) is durable.
    std::shared_ptr<std::promise<void>> started;
    {
        std::unique_lock lock(mutex_);
        auto& r = e->record;
        if (e->deleted || e->finalizing || r.status != job_status::queued) return false;
        if (draining_) return false;  // stays queued in the store; runs after the restart
        transitions::start(r, now_unix_ms());
        e->control = std::make_shared<run_control>();
        running_.insert(e);
        rt.events->started(static_cast<double>(r.started_at - std::max(r.created_at, r.not_before)) / 1000.0);
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
        timeout_ms = rt.config()->timeout.count();
        if (r.timeout_ms > 0) timeout_ms = std::min(timeout_ms, r.timeout_ms);
        ctx.job_id = r.id;
        ctx.type = r.type;
        ctx.attempt = r.attempt;
        ctx.deadline = r.started_at + timeout_ms;
        ctx.input_files = uploads_.paths(r.files);
        ctx.control = e->control;
        input_json = r.input;
        auto wake = collect_waiters_locked(*e);
        lock.unlock();
        run_all(wake);
    }
    if (started) started->get_future().wait();
    const auto control = ctx.control;
    ctx.on_progress = [this, e, control](double percent, std::string message) {
        on_progress(e, control, percent, std::move(message));
    };
    ctx.on_log = [tag = "job=" + ctx.job_id + " type=" + ctx.type](int level, std::string_view message) {
        static constexpr log_level levels[] = {log_level::debug, log_level::info, log_level::warning,
                                               log_level::error};
        log_line(levels[std::clamp(level, 0, 3)], tag + " plugin: " + std::string(message));
    };
    const auto scratch = config_.state_dir / "scratch" / (ctx.job_id + "-" + std::to_string(ctx.attempt));
    ctx.scratch_dir = scratch.string();

    auto deadline = timers_.after(milliseconds(timeout_ms), [this, e, control] {
        control->request_stop(stop_reason::timeout);
        timers_.after(config_.cancel_grace, [this, e, control] { force_finish(e, control); });
    });
    const auto run_start = std::chrono::steady_clock::now();
    const ticketd_run_status status = rt.handler->run(ctx, input_json);
    if (mark) mark->clear();
    deadline->cancel();
    const double ran = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
    rt.events->ran(ran);
    finish_attempt(rt, e, ctx, status);  // may adopt a result file from the scratch dir
    if (ctx.scratch_made) {
        std::error_code ec;
        std::filesystem::remove_all(scratch, ec);
    }
    return control->abandoned.load();
}

void job_engine::on_progress(const job_entry_ptr& e, const std::shared_ptr<run_control>& control,
                             double percent, std::string message) {
    std::unique_lock lock(mutex_);
    if (e->control != control || e->finalizing || e->deleted) return;
    auto& r = e->record;
    percent = std::max(percent, r.progress_percent.value_or(0.0));
    if (r.progress_percent && static_cast<int>(percent) == static_cast<int>(*r.progress_percent) &&
        message == r.progress_message) {
        return;  // nothing a client would see changed
    }
    r.progress_percent = percent;
    r.progress_message = std::move(message);
    transitions::touch(r, now_unix_ms());
    auto wake = collect_waiters_locked(*e);
    lock.unlock();
    run_all(wake);
}

job_record job_engine::terminal_record(const job_record& from, job_status status,
                                       std::optional<job_error> error) const {
    return transitions::terminal(from, status, std::move(error), now_unix_ms(), retention_ms(from.type));
}

void job_engine::finish_attempt(job_type_runtime& rt, const job_entry_ptr& e, job_context& ctx,
                                ticketd_run_status status) {
    const stop_reason reason = ctx.control->stop();
    // Write the result before taking the lock: the file must be durable before the
    // job is stored as succeeded, and disk I/O never happens under the engine's mutex.
    bool result_written = false;
    bool result_inline = false;
    uint64_t result_size = 0;
    std::string result_error;
    if (status == TICKETD_RUN_SUCCEEDED && reason != stop_reason::timeout && reason != stop_reason::drain) {
        if (!ctx.has_result) {
            ctx.result_type = "application/json";
            ctx.result = "{}";
        }
        try {
            if (ctx.result_file.empty() && ctx.result.size() <= inline_result_limit) {
                // Small: committed with the terminal state, in the same fsync.
                result_inline = true;
                result_size = ctx.result.size();
            } else if (ctx.result_file.empty()) {
                results_.write(ctx.job_id, ctx.result);
                result_size = ctx.result.size();
            } else {
                result_size = results_.adopt(ctx.job_id, ctx.result_file);
            }
            result_written = true;
        } catch (const std::exception& err) {
            result_error = err.what();
        }
    }

    std::unique_lock lock(mutex_);
    if (e->control != ctx.control || e->finalizing || e->deleted) {
        // Already finished for it (deleted, or the grace expired): drop what it produced.
        if (result_written && !result_inline) results_.remove(ctx.job_id);
        if (e->control == ctx.control) {
            running_.erase(e);
            e->control.reset();
            idle_cv_.notify_all();
        }
        if (!e->deleted) {
            log_warning("job=" + ctx.job_id + " type=" + ctx.type +
                        " plugin returned after the job had been finished without it");
        }
        return;
    }
    const job_record& r = e->record;
    if (reason == stop_reason::drain) {
        job_record next = r;
        transitions::requeue(next);
        next.updated_at = now_unix_ms();
        finalize_locked(e, std::move(next));
        return;
    }
    if (reason == stop_reason::timeout) {
        finalize_locked(e, terminal_record(r, job_status::failed,
                                           job_error{"job-timeout", "Job timed out",
                                                     "the job did not finish within its timeout"}));
        return;
    }
    switch (status) {
        case TICKETD_RUN_SUCCEEDED: {
            if (!result_written) {
                finalize_locked(e, terminal_record(r, job_status::failed,
                                                   job_error{"job-failed", "Job failed",
                                                             "the result could not be stored: " + result_error}));
                return;
            }
            job_record next = terminal_record(r, job_status::succeeded, std::nullopt);
            next.result_type = ctx.result_type;
            next.result_name = ctx.result_name;
            next.result_size = result_size;
            next.result_inline = result_inline;
            finalize_locked(e, std::move(next), result_inline ? std::optional<std::string>(std::move(ctx.result)) : std::nullopt);
            return;
        }
        case TICKETD_RUN_CANCELED:
            if (reason == stop_reason::canceled) {
                finalize_locked(e, terminal_record(r, job_status::canceled,
                                                   job_error{"job-canceled", "Job canceled",
                                                             "canceled while running"}));
                return;
            }
            [[fallthrough]];  // a plugin that says "canceled" unasked has failed
        case TICKETD_RUN_FAILED:
        default: {
            std::string code = ctx.fail_code.empty() ? "job-failed" : rt.type + "/" + ctx.fail_code;
            std::string detail = ctx.fail_message.empty() ? "the job failed" : ctx.fail_message;
            if (status == TICKETD_RUN_CANCELED) detail = "the plugin stopped without a cancel request";
            finalize_locked(e, terminal_record(r, job_status::failed,
                                               job_error{std::move(code), "Job failed", std::move(detail)}));
            return;
        }
    }
}

void job_engine::force_finish(const job_entry_ptr& e, const std::shared_ptr<run_control>& control) {
    std::unique_lock lock(mutex_);
    if (e->control != control || e->finalizing || e->deleted) return;
    const stop_reason reason = control->stop();
    if (reason == stop_reason::drain) return;  // drain() handles its own stragglers
    log_warning(job_tag(e->record) + " plugin ignored the stop request for " +
                std::to_string(config_.cancel_grace.count()) + " ms; the job is finished without it, and " +
                "another worker takes its worker's place");
    // The worker stays inside the plugin, perhaps for good: the pool gets a new one, so
    // that a plugin that never returns does not cost its type a worker. (During a drain
    // there is no pool left to serve.) Started once the job is finished and the lock let go.
    job_type_ptr replace;
    if (auto rt = find_type(e->record.type); rt && !rt->removed && !draining_ && !control->abandoned.exchange(true)) {
        replace = rt;
    }
    if (reason == stop_reason::timeout) {
        finalize_locked(e, terminal_record(e->record, job_status::failed,
                                           job_error{"job-timeout", "Job timed out",
                                                     "the job did not finish within its timeout"}));
    } else {
        finalize_locked(e, terminal_record(e->record, job_status::canceled,
                                           job_error{"job-canceled", "Job canceled", "canceled while running"}));
    }
    lock.unlock();
    if (!replace) return;
    replace->events->worker_abandoned(+1);
    try {
        start_workers(replace, 1);
    } catch (const std::exception& ex) {
        log_error("worker of type " + replace->type + ": no replacement for an abandoned worker: " + ex.what());
    }
}

void job_engine::finalize_locked(const job_entry_ptr& e, job_record next, std::optional<std::string> result) {
    e->finalizing = true;
    next.version = e->record.version + 1;
    auto committed = [this, e, next](bool ok, const std::string& error) {
        log_write_failure("finish of " + job_tag(next), ok, error);
        std::unique_lock lock(mutex_);
        running_.erase(e);
        e->control.reset();
        idle_cv_.notify_all();
        if (is_terminal(next.status)) uploads_.release(next.id, next.files);
        if (e->deleted) return;  // the delete that follows this write removes the row
        // Keep the newest progress-bumped version ordering: never go backwards.
        const uint64_t version = std::max(next.version, e->record.version + 1);
        e->record = next;
        e->record.version = version;
        e->finalizing = false;
        // A drained job goes back to "queued" in memory only: the process is stopping and
        // the store has it queued for the next start.
        if (is_terminal(next.status)) {
            remember_terminal_locked(e);
            count_outcome(next);
        }
        auto wake = collect_waiters_locked(*e);
        lock.unlock();
        run_all(wake);
    };
    if (result) store_.update(next, std::move(*result), std::move(committed));
    else store_.update(next, std::move(committed));
}

void job_engine::count_outcome(const job_record& r) const {
    const auto rt = find_type(r.type);
    if (rt == nullptr) return;
    const std::string code = r.error ? r.error->code : "";
    switch (r.status) {
        case job_status::succeeded: return rt->events->completed(job_outcome::succeeded);
        case job_status::canceled: return rt->events->completed(job_outcome::canceled);
        case job_status::failed:
            return rt->events->completed(code == "job-timeout"       ? job_outcome::timeout
                                         : code == "job-interrupted" ? job_outcome::interrupted
                                                                     : job_outcome::failed);
        case job_status::queued:
        case job_status::running: return;
    }
}

void job_engine::remember_terminal_locked(const job_entry_ptr& e) {
    // Only a run needs the input (the store keeps it): a finished job's memory is what
    // its document shows.
    std::string().swap(e->record.input);
    terminal_order_.push_back(e);
    while (terminal_order_.size() > config_.max_cached_jobs) {
        const job_entry_ptr oldest = std::move(terminal_order_.front());
        terminal_order_.pop_front();
        const auto key = job_key_of(oldest->record.id);
        const job_entry_ptr* found = key ? jobs_.find(*key) : nullptr;
        if (found != nullptr && *found == oldest && is_terminal(oldest->record.status) &&
            oldest->waiters.empty()) {
            jobs_.erase(*key);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Retention

void job_engine::schedule_purge() {
    std::lock_guard lock(mutex_);
    if (draining_) return;
    purge_timer_ = timers_.after(config_.purge_interval, [this] { purge(); });
}

void job_engine::purge() {
    try {
        uploads_.purge(now_unix_ms());
    } catch (const std::exception& e) {  // the jobs' purge, and the next round, still run
        log_error(std::string("retention: purging uploads failed: ") + e.what());
    }
    store_.purge(now_unix_ms(), config_.tombstone_ttl.count(), [this](purge_report report) {
        {
            std::lock_guard lock(mutex_);
            for (const auto& id : report.purged_job_ids) {
                auto* found = find_job_locked(id);
                if (found != nullptr && is_terminal((*found)->record.status)) erase_job_locked(id);
            }
            for (const auto& k : report.expired_keys) keys_.erase(k.principal, k.key);
            if (!report.purged_job_ids.empty()) {  // the cache order must not keep them alive
                std::erase_if(terminal_order_, [&](const job_entry_ptr& e) {
                    const auto* found = find_job_locked(e->record.id);
                    return found == nullptr || *found != e;
                });
            }
            if (draining_) return;
        }
        for (const auto& id : report.purged_job_ids) results_.remove(id);
        if (!report.purged_job_ids.empty() || !report.expired_keys.empty()) {
            log_info("retention: purged " + std::to_string(report.purged_job_ids.size()) + " jobs and " +
                     std::to_string(report.expired_keys.size()) + " idempotency keys");
        }
        schedule_purge();
    });
}

std::vector<job_type_info> job_engine::types() const {
    std::vector<job_type_info> out;
    for (const auto& rt : types_snapshot()) {
        const auto c = rt->config();
        const auto& d = rt->handler->library().descriptor();
        const auto& lib = rt->handler->library();
        out.push_back({rt->type, d.name, d.version, c->workers, rt->busy.load(),
                       rt->queue->size(), rt->queue->capacity(), rt->queue->oldest_created_at(),
                       c->timeout.count(), c->max_attempts, c->retention.count(), c->max_input_bytes,
                       d.license ? d.license : "", d.description ? d.description : "",
                       lib.settings_schema_text(), lib.input_schema_text()});
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// Reload

std::string job_engine::reload(const std::vector<job_type_config>& next, const job_type_factory& create) {
    std::lock_guard serial(reload_mutex_);
    std::map<std::string, job_type_ptr> current;
    for (auto& rt : types_snapshot()) current[rt->type] = rt;

    // Plan, creating new runtimes first: a plugin that fails to load changes nothing.
    std::vector<job_type_ptr> next_types, created, retired;
    std::vector<std::pair<job_type_ptr, std::shared_ptr<const job_type_config>>> updated;
    std::set<std::string> wanted;
    for (const auto& t : next) {
        wanted.insert(t.type);
        const auto it = current.find(t.type);
        if (it != current.end()) {
            const auto old = it->second->config();
            if (old->plugin == t.plugin && old->settings == t.settings && old->validate_threads == t.validate_threads) {
                updated.emplace_back(it->second, std::make_shared<const job_type_config>(t));
                next_types.push_back(it->second);
                continue;
            }
            retired.push_back(it->second);  // a new plugin, settings or validation pool: a new runtime
        }
        created.push_back(create(t));
        next_types.push_back(created.back());
    }
    for (const auto& [type, rt] : current) {
        if (wanted.count(type) == 0) retired.push_back(rt);
    }

    {
        // Under the engine's lock no accept can reserve a place in a queue meanwhile.
        std::lock_guard lock(mutex_);
        for (const auto& rt : retired) {
            size_t unfinished = 0;
            jobs_.for_each([&](const job_key&, const job_entry_ptr& e) {
                if (e->record.type == rt->type && !e->deleted && !is_terminal(e->record.status)) ++unfinished;
            });
            unfinished += rt->queue->reserved();  // accepts still committing
            // A deleted job whose plugin has not returned yet still holds a worker.
            unfinished = std::max<size_t>(unfinished, rt->busy.load());
            if (unfinished > 0) {
                throw std::runtime_error("job type '" + rt->type + "' has " + std::to_string(unfinished) +
                                         " unfinished jobs; it can be removed, or get another plugin, settings or "
                                         "validate_threads, only when it has none (wait, or cancel them)");
            }
        }
        for (const auto& rt : retired) rt->removed = true;
        {
            std::unique_lock types_lock(types_mutex_);
            types_ = next_types;
        }
        // Jobs recovered at startup for a type that was not configured then run now.
        for (const auto& rt : created) {
            jobs_.for_each([&](const job_key&, const job_entry_ptr& e) {
                if (e->record.type == rt->type && e->record.status == job_status::queued && !e->deleted &&
                    !e->finalizing) {
                    rt->queue->push(e, e->record.priority, e->record.not_before);
                }
            });
        }
    }
    // Submits still queued for a retired type's validation are answered (503: retry) and
    // its threads joined, so none outlives the engine. One inside a validate() that never
    // returns holds the reload here.
    for (const auto& rt : retired) rt->validations->stop();

    std::string summary;
    auto note = [&summary](const std::string& what) { summary += (summary.empty() ? "" : "; ") + what; };
    for (auto& [rt, c] : updated) {
        const auto old = rt->config();
        rt->set_config(c);
        rt->queue->set_capacity(c->queue_capacity);
        if (c->workers > old->workers) start_workers(rt, c->workers - old->workers);
        if (c->workers < old->workers) rt->queue->retire(old->workers - c->workers);
        if (c->workers != old->workers) {
            note(rt->type + ": " + std::to_string(old->workers) + " -> " + std::to_string(c->workers) + " workers");
        }
    }
    for (const auto& rt : retired) {
        rt->queue->close();
        for (auto& t : rt->take_workers()) {
            if (t.joinable()) t.join();
        }
        if (wanted.count(rt->type) == 0) note("removed " + rt->type);
    }
    for (const auto& rt : created) {
        start_workers(rt, rt->config()->workers);
        note((current.count(rt->type) ? "replaced " : "added ") + rt->type);
    }
    return summary.empty() ? "job types unchanged (limits reapplied)" : summary;
}

}  // namespace ticketd
