// The embedded backend's side of running jobs: a worker's seat (its attempt mark), the
// claim that starts an attempt, its progress, and the finish, fenced by the attempt.
#include "embedded/backend_detail.hpp"
#include "embedded/embedded_backend.hpp"
#include "jobs/transitions.hpp"

#include <future>
#include <utility>

namespace ticketd {

using namespace embedded_detail;

namespace {

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
        const bool retried = next.status == job_status::queued && next.attempt > e->record.attempt;
        e->record = next;
        e->record.version = version;
        e->finalizing = false;
        if (is_terminal(next.status)) finished_locked(e);
        // A retry waits in its queue for its backoff. A drained job goes back to "queued"
        // in memory only: the process is stopping and the store has it queued for the next start.
        const bool cancel_now = std::exchange(e->cancel_after_commit, false) && retried;
        if (retried && !cancel_now) {
            if (auto* q = queue_of_locked(next.type)) q->push(e, next.priority, next.not_before);
        }
        auto wake = collect_waiters_locked(*e);
        lock.unlock();
        run_all(wake);
        if (cancel_now) cancel(next.id, caller{next.principal, true}, [](cancel_outcome) {});  // queued: canceled
        if (then) then();
    };
    if (result) store_.update(next, std::move(*result), std::move(committed));
    else store_.update(next, std::move(committed));
}

void embedded_backend::finished_locked(const job_entry_ptr& e) {
    uncount_live_locked(*e);
    uploads_.release(e->record.id, e->record.files);
    count_outcome_locked(e->record);
    table_.remember_finished(e);
}

void embedded_backend::count_live_locked(job_entry& e) {
    if (e.counted_live) return;
    e.counted_live = true;
    ++live_[e.record.principal];
}

void embedded_backend::uncount_live_locked(job_entry& e) {
    if (!e.counted_live) return;
    e.counted_live = false;
    release_live_locked(e.record.principal);
}

void embedded_backend::release_live_locked(const std::string& principal) {
    const auto it = live_.find(principal);
    if (it != live_.end() && --it->second == 0) live_.erase(it);
}

uint64_t embedded_backend::live_jobs(const std::string& principal) const {
    std::lock_guard lock(mutex_);
    const auto it = live_.find(principal);
    return it == live_.end() ? 0 : it->second;
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
        case job_status::scheduled:
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

}  // namespace ticketd
