#include "jobs/periodic_jobs.hpp"

#include "system/durable_file.hpp"
#include "system/log.hpp"
#include "system/sha256.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace ticketd {

namespace {
// How far back a catch-up looks: as long as idempotency keys live by default, so that a
// slot fired before a crash is found by its key, not fired again.
constexpr int64_t catch_up_look_back_ms = 24LL * 3'600'000;
}  // namespace

std::map<std::string, std::pair<unix_ms, std::string>> read_schedule_state(std::string_view text, std::string& problem) {
    std::map<std::string, std::pair<unix_ms, std::string>> out;
    const auto json = nlohmann::json::parse(text, nullptr, false);
    if (!json.is_object()) {
        problem = "not a JSON object";
        return out;
    }
    for (const auto& [id, v] : json.items()) {
        const auto fire = v.is_object() ? v.find("lastFire") : v.end();
        const auto job = v.is_object() ? v.find("lastJob") : v.end();
        if (fire == v.end() || !fire->is_number_integer() || job == v.end() || !job->is_string()) continue;
        out[id] = {fire->get<int64_t>(), job->get<std::string>()};
    }
    return out;
}

periodic_jobs::periodic_jobs(job_service& jobs, scheduler& timers, std::filesystem::path state_file)
    : jobs_(jobs), timers_(timers), state_file_(std::move(state_file)) {
    std::ifstream in(state_file_);
    if (!in) return;  // none yet
    std::stringstream text;
    text << in.rdbuf();
    std::string problem;
    stored_ = read_schedule_state(text.str(), problem);
    if (!problem.empty()) {
        log_warning(state_file_.string() + ": " + problem + "; the schedules start from now (no catch-up)");
    }
}

periodic_jobs::~periodic_jobs() {
    stop();
    {
        // Submits already made answer on the job service's threads, into this object.
        std::unique_lock lock(mutex_);
        if (!answered_.wait_for(lock, std::chrono::seconds(30), [&] { return in_flight_ == 0; })) {
            log_error("schedules: " + std::to_string(in_flight_) + " submits still unanswered at shutdown");
        }
    }
    writer_.stop();
}

void periodic_jobs::set(const std::vector<job_type_config>& types) {
    std::unique_lock lock(mutex_);
    if (stopped_) return;
    std::vector<fire> fires;
    const unix_ms now = now_unix_ms();
    entries next;
    for (const auto& t : types) {
        for (const auto& c : t.schedules) {
            const std::string id = t.type + "/" + c.name;
            const auto old = entries_.find(id);
            entry e{c, t.type, cron_schedule::parse(c.cron, c.time_zone), 0, 0, 0, {}, {}, 0};
            bool catching_up = false;
            if (old != entries_.end()) {
                e.handled_until = old->second.handled_until;
                e.last_fire = old->second.last_fire;
                e.last_job = old->second.last_job;
                e.last_error = old->second.last_error;
                e.last_error_at = old->second.last_error_at;
            } else if (const auto stored = stored_.find(id); stored != stored_.end()) {
                e.handled_until = e.last_fire = stored->second.first;
                e.last_job = stored->second.second;
                catching_up = true;  // it fired before this process started
            } else {
                e.handled_until = now;  // new: from now on
            }
            auto [it, inserted] = next.emplace(id, std::move(e));
            due_locked(it->second, now, catching_up, fires);
        }
    }
    entries_ = std::move(next);
    arm_locked();
    lock.unlock();
    submit(std::move(fires));
}

void periodic_jobs::due_locked(entry& e, unix_ms now, bool catching_up, std::vector<fire>& out) {
    std::vector<unix_ms> due;
    // Slots further back than the look-back are not caught up (nor walked through).
    const unix_ms from = std::max(e.handled_until, now - catch_up_look_back_ms);
    for (auto slot = e.cron.next_after(from); slot && *slot <= now; slot = e.cron.next_after(*slot)) {
        due.push_back(*slot);
        if (due.size() > 2 * e.config.catch_up_limit + 1) due.erase(due.begin());  // only the newest matter
    }
    e.handled_until = std::max(e.handled_until, now);
    const auto next = e.cron.next_after(now);
    e.next_fire = next.value_or(0);
    if (due.empty()) return;
    using policy = schedule_config::catch_up_policy;
    switch (e.config.catch_up) {
        case policy::none:
            if (catching_up) due.clear();
            else due.erase(due.begin(), due.end() - 1);
            break;
        case policy::last: due.erase(due.begin(), due.end() - 1); break;
        case policy::all:
            if (due.size() > e.config.catch_up_limit) due.erase(due.begin(), due.end() - e.config.catch_up_limit);
            break;
    }
    for (const unix_ms slot : due) {
        submit_request r;
        r.type = e.type;
        r.input = e.config.input;
        r.labels = e.config.labels;
        r.priority = e.config.priority;
        r.principal = e.config.principal;
        r.idempotency_key = "schedule:" + e.type + ":" + e.config.name + ":" + format_rfc3339(slot);
        r.fingerprint =
            sha256_hex(r.idempotency_key + "\n" + r.input + "\n" + r.labels + "\n" + std::to_string(r.priority));
        out.push_back({e.type + "/" + e.config.name, slot, e.cron.next_after(slot).value_or(0), std::move(r)});
    }
}

void periodic_jobs::submit(std::vector<fire> fires, std::vector<int64_t> waits) {
    {
        std::lock_guard lock(mutex_);
        in_flight_ += fires.size();
    }
    for (size_t i = 0; i < fires.size(); ++i) {
        auto request = fires[i].request;  // kept: a refused fire is submitted again
        jobs_.submit(std::move(request), [this, f = std::move(fires[i]), waited = i < waits.size() ? waits[i] : 0](
                                             submit_outcome out) {
            answered(f, waited, out);
            std::lock_guard lock(mutex_);  // last: the destructor waits for it
            --in_flight_;
            answered_.notify_all();
        });
    }
}

void periodic_jobs::answered(const fire& f, int64_t waited_ms, const submit_outcome& out) {
    using st = submit_status;
    // A key already bound (to a job since changed by an operator, or deleted) means the
    // slot was fired before: it counts as fired, with no new job.
    const bool made = out.status == st::accepted || out.status == st::replayed;
    const bool fired_before = out.status == st::key_reused || out.status == st::key_job_deleted;
    const bool passes = out.status == st::unavailable || out.status == st::store_unavailable ||
                        out.status == st::over_quota || out.status == st::key_in_progress || out.status == st::internal;
    std::unique_lock lock(mutex_);
    const auto it = entries_.find(f.id);
    if (made) {
        const std::string job = out.job ? out.job->id : out.job_id;
        if (it != entries_.end() && f.slot >= it->second.last_fire) {
            it->second.last_fire = f.slot;
            it->second.last_job = job;
            it->second.last_error.clear();
        }
        auto& stored = stored_[f.id];
        if (f.slot >= stored.first) stored = {f.slot, job};
        lock.unlock();
        save();
        return;
    }
    if (fired_before) return;
    const unix_ms now = now_unix_ms();
    const int64_t wait = std::min<int64_t>(std::max<int64_t>(waited_ms * 2, 1000), 60'000);
    // Until the slot after it is due: then that one fires, and this one is missed.
    const bool retry = passes && !stopped_ && it != entries_.end() && (f.next_slot == 0 || now + wait < f.next_slot);
    if (it != entries_.end()) {
        it->second.last_error = format_rfc3339(f.slot) + ": " + out.detail;
        it->second.last_error_at = now;
    }
    log_error("schedule " + f.id + ": the job of " + format_rfc3339(f.slot) + " was not submitted: " + out.detail +
              (retry ? "; trying again in " + std::to_string(wait / 1000) + " s" : "; this slot is missed"));
    if (!retry) return;
    refused_.push_back({f, now + wait, wait});
    arm_locked();
}

void periodic_jobs::arm_locked() {
    if (timer_) timer_->cancel();
    timer_.reset();
    unix_ms next = 0;
    for (const auto& [id, e] : entries_) {
        if (e.next_fire != 0 && (next == 0 || e.next_fire < next)) next = e.next_fire;
    }
    for (const auto& r : refused_) {
        if (next == 0 || r.at < next) next = r.at;
    }
    if (next == 0 || stopped_) return;
    const int64_t delay = std::max<int64_t>(0, next - now_unix_ms());
    timer_ = timers_.after(std::chrono::milliseconds(delay), [this] { on_timer(); });
}

void periodic_jobs::on_timer() {
    std::unique_lock lock(mutex_);
    if (stopped_) return;
    const unix_ms now = now_unix_ms();
    std::vector<fire> fires;
    std::vector<int64_t> waits;
    // Refused fires due again, first (a schedule that was reloaded away is dropped).
    std::vector<refused_fire> later;
    for (auto& r : refused_) {
        if (r.at > now) {
            later.push_back(std::move(r));
        } else if (entries_.contains(r.what.id)) {
            fires.push_back(std::move(r.what));
            waits.push_back(r.wait_ms);
        }
    }
    refused_ = std::move(later);
    for (auto& [id, e] : entries_) {
        if (e.next_fire != 0 && e.next_fire <= now) due_locked(e, now, false, fires);
    }
    arm_locked();
    lock.unlock();
    submit(std::move(fires), std::move(waits));
}

void periodic_jobs::stop() {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    if (timer_) timer_->cancel();
    timer_.reset();
}

void periodic_jobs::save() {
    writer_.post([this] {
        nlohmann::json json = nlohmann::json::object();
        {
            std::lock_guard lock(mutex_);
            for (const auto& [id, v] : stored_) json[id] = {{"lastFire", v.first}, {"lastJob", v.second}};
        }
        try {
            write_file_durably(state_file_, json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
        } catch (const std::exception& e) {
            log_error("schedules: " + std::string(e.what()) + "; a restart may fire the last slots again (they are "
                      "idempotent: the jobs made already are found by their keys)");
        }
    });
}

std::vector<schedule_status> periodic_jobs::statuses() const {
    std::lock_guard lock(mutex_);
    std::vector<schedule_status> out;
    for (const auto& [id, e] : entries_) {
        out.push_back({e.type, e.config.name, e.config.cron, e.config.time_zone, e.next_fire, e.last_fire, e.last_job,
                       e.last_error, e.last_error_at});
    }
    return out;
}

}  // namespace ticketd
