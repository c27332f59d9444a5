#include "embedded/embedded_backend.hpp"

#include "embedded/backend_detail.hpp"
#include "jobs/transitions.hpp"

#include <algorithm>
#include <future>
#include <stdexcept>

namespace ticketd {

using namespace embedded_detail;

embedded_backend::embedded_backend(settings s, job_store& store, upload_store& uploads, scheduler& timers,
                                   std::function<unix_ms()> now)
    : settings_(std::move(s)),
      store_(store),
      uploads_(uploads),
      timers_(timers),
      now_(std::move(now)),
      results_(settings_.state_dir / "results"),
      marks_(settings_.state_dir / "attempts"),
      paused_(settings_.state_dir / "paused-types"),
      table_(settings_.max_cached_jobs) {}

embedded_backend::~embedded_backend() {
    stop_accepting();
    paused_.stop();  // its last writes call back into this backend
}

std::shared_ptr<work_queue> embedded_backend::make_queue(const std::string& type, uint64_t capacity,
                                                         job_type_events& events) {
    auto q = std::make_shared<job_queue>(capacity, type, &events, &weights_);
    q->set_paused(paused_.contains(type));
    return q;
}

void embedded_backend::set_paused(const std::string& type, bool paused, std::function<void(bool ok)> done) {
    // Queues pause at once; the set is stored after. Were the write to fail, both are put
    // back as they were.
    auto apply = [this, type](bool to) {
        std::lock_guard lock(mutex_);
        if (auto* q = queue_of_locked(type)) q->set_paused(to);
    };
    apply(paused);
    paused_.set(type, paused, [apply, done = std::move(done)](bool ok, bool was) {
        if (!ok) apply(was);
        done(ok);
    });
}

void embedded_backend::set_queues(const std::vector<work_queue*>& queues, const std::vector<retiring_queue>& retiring) {
    // Under the lock no accept can reserve a place in a queue meanwhile.
    std::lock_guard lock(mutex_);
    std::map<std::string, job_queue*> next;
    for (auto* queue : queues) next[queue->type()] = static_cast<job_queue*>(queue);
    for (const auto& [queue, busy] : retiring) {
        auto& q = static_cast<job_queue&>(*queue);
        // Scheduled jobs of a type that is replaced (not removed) move to its new queue.
        const bool replaced = next.contains(q.type());
        size_t unfinished = 0;
        table_.for_each([&](const job_entry_ptr& e) {
            if (e->record.type != q.type() || e->deleted || is_terminal(e->record.status)) return;
            unfinished += !(replaced && e->record.status == job_status::scheduled);
        });
        unfinished += q.reserved();  // accepts still committing
        if (!replaced) unfinished += q.scheduled_reserved();  // (scheduled ones move to a replacement)
        // A deleted job whose plugin has not returned yet still holds a worker: counted by
        // its running attempt (seen under the lock, unlike `busy`, a snapshot from before).
        size_t running = 0;
        for (const auto& e : running_) running += e->record.type == q.type();
        unfinished = std::max<size_t>(unfinished, std::max<size_t>(busy, running));
        if (unfinished > 0) {
            throw std::runtime_error("job type '" + q.type() + "' has " + std::to_string(unfinished) +
                                     " unfinished jobs; it can be removed, or get another plugin, settings or "
                                     "validate_threads, only when it has none (wait, or cancel them)");
        }
    }
    for (const auto& [queue, busy] : retiring) static_cast<job_queue&>(*queue).set_retired();
    for (const auto& [type, q] : next) {
        q->set_paused(paused_.contains(type));  // a pause that came after the queue was made
        if (const auto it = queues_.find(type); it != queues_.end() && it->second == q) continue;
        // Jobs recovered at startup for a type that was not configured then run now.
        table_.for_each([&, q = q](const job_entry_ptr& e) {
            const auto status = e->record.status;
            if (e->record.type == q->type() && (status == job_status::queued || status == job_status::scheduled) &&
                !e->deleted && !e->finalizing) {
                enqueue_locked(e, *q);
            }
        });
    }
    queues_ = std::move(next);
}

void embedded_backend::enqueue_locked(const job_entry_ptr& e, job_queue& q) {
    if (e->record.status == job_status::scheduled) schedule_locked(e, q);
    else q.push(e, e->record.priority, e->record.not_before);
}

void embedded_backend::schedule_locked(const job_entry_ptr& e, job_queue& q) {
    q.schedule(e, e->record.not_before);
    arm_promotion_locked(e->record.not_before);
}

void embedded_backend::arm_promotion_locked(unix_ms due) {
    if (!accepting_) return;
    if (promote_timer_ && promote_at_ <= due) return;  // an earlier promotion is armed
    if (promote_timer_) promote_timer_->cancel();
    promote_at_ = due;
    const int64_t delay = std::max<int64_t>(0, due - now_());
    promote_timer_ = timers_.after(std::chrono::milliseconds(delay), [this] { promote_due(); });
}

void embedded_backend::promote_due() {
    std::unique_lock lock(mutex_);
    promote_timer_.reset();
    promote_at_ = 0;
    if (!accepting_) return;
    const unix_ms now = now_();
    wake_list wake;
    unix_ms next = 0;
    constexpr size_t batch = 10'000;  // due at once: queued a batch at a time, the lock let go between
    for (const auto& [type, q] : queues_) {
        auto due = q->take_due(now, batch);
        if (due.size() == batch) next = now;
        for (auto& e : due) {
            if (e->deleted || e->finalizing || e->record.status != job_status::scheduled) continue;
            e->record.status = job_status::queued;
            transitions::touch(e->record, now);
            store_.update(e->record, [](bool ok, const std::string& error) {
                log_write_failure("queuing a scheduled job", ok, error);
            });
            q->push(e, e->record.priority, 0);  // due: it is queued whatever the queue's capacity
            auto w = collect_waiters_locked(*e);
            wake.insert(wake.end(), std::make_move_iterator(w.begin()), std::make_move_iterator(w.end()));
        }
        if (const unix_ms at = q->next_due(); at != 0 && (next == 0 || at < next)) next = at;
    }
    if (next != 0) arm_promotion_locked(next);
    lock.unlock();
    run_all(wake);
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
    if (promote_timer_) promote_timer_->cancel();  // scheduled jobs stay stored as they are
}

// ---------------------------------------------------------------------------------------
// Reads and long-polls

void embedded_backend::get(const std::string& id, const caller& who,
                           std::function<void(lookup_outcome)> done) {
    {
        std::unique_lock lock(mutex_);
        auto* found = table_.find(id);
        if (found != nullptr) {
            const auto& e = **found;
            lookup_outcome out;
            if (who.may_see(e.record.principal)) {
                if (e.deleted) out.gone = true;
                else out.job = e.record;
            }
            lock.unlock();  // callbacks never run under the lock
            done(std::move(out));
            return;
        }
    }
    store_.find(id, [who, done = std::move(done)](job_lookup found) {
        if (found.job && !who.may_see(found.job->principal)) found.job.reset();
        done({std::move(found.job), found.gone && who.may_see(found.gone_principal)});
    });
}

std::optional<uint64_t> embedded_backend::watch(const std::string& id, const caller& who,
                                                const std::string& etag, std::chrono::milliseconds wait,
                                                std::function<void(lookup_outcome)> done) {
    std::unique_lock lock(mutex_);
    auto* found = table_.find(id);
    const bool satisfied =
        found == nullptr || (*found)->deleted || !who.may_see((*found)->record.principal) ||
        (etag.empty() ? is_terminal((*found)->record.status) : (*found)->record.etag() != etag);
    if (satisfied || wait.count() <= 0) {
        lock.unlock();
        get(id, who, std::move(done));
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
