#include "jobs/job_engine.hpp"

#include "jobs/periodic_jobs.hpp"
#include "system/log.hpp"

#include <future>
#include <map>
#include <set>

namespace ticketd {

namespace {

// Where a type's events go when nobody listens (a type made without metrics).
class no_events final : public job_type_events {
   public:
    void submitted() override {}
    void rejected(reject_reason) override {}
    void started(double) override {}
    void ran(double) override {}
    void completed(job_outcome) override {}
    void retried(retry_reason) override {}
    void worker_abandoned(double) override {}
};
no_events nowhere;

std::vector<work_queue*> queues_of(const std::vector<job_type_ptr>& types) {
    std::vector<work_queue*> out;
    for (const auto& rt : types) out.push_back(rt->queue.get());
    return out;
}

}  // namespace

job_engine::job_engine(settings s, job_backend& backend, scheduler& timers, std::vector<job_type_ptr> types)
    : settings_(std::move(s)),
      backend_(backend),
      types_(std::move(types)),
      runner_(backend, types_, timers, settings_.scratch_dir, settings_.cancel_grace) {
    backend_.attach(*this);
    const auto all = types_.snapshot();
    for (const auto& rt : all) adopt(*rt);
    backend_.set_queues(queues_of(all), {});
}

job_engine::~job_engine() {
    const auto types = types_.snapshot();
    accepting_ = false;
    backend_.stop_accepting();
    for (auto& rt : types) rt->validations->stop();  // their tasks use the engine
    runner_.stop_replacing();
    for (auto& rt : types) rt->queue->close();
    for (auto& rt : types) join_workers(*rt);
}

void job_engine::adopt(job_type_runtime& rt) {
    if (rt.events == nullptr) rt.events = &nowhere;
    if (!rt.queue) rt.queue = backend_.make_queue(rt.type, rt.config()->queue_capacity, *rt.events);
}

void job_engine::join_workers(job_type_runtime& rt) {
    for (auto& t : rt.take_workers()) {
        if (t.joinable()) t.join();
    }
}

std::optional<job_type_rules> job_engine::rules(const std::string& type) const {
    const auto rt = types_.find(type);
    if (!rt) return std::nullopt;
    const auto c = rt->config();
    return rules_of(*c);
}

void job_engine::cancel_requested(const claimed_attempt& attempt) {
    runner_.stop_with_grace(std::make_shared<const claimed_attempt>(attempt), stop_reason::canceled);
}

// ---------------------------------------------------------------------------------------
// Startup and shutdown

void job_engine::start() {
    backend_.start();
    for (auto& rt : types_.snapshot()) runner_.start_workers(rt, rt->config()->workers);
    accepting_ = true;
}

bool job_engine::drain() {
    accepting_ = false;
    backend_.stop_accepting();  // a submit validated meanwhile is refused (503), not accepted
    const auto types = types_.snapshot();
    for (auto& rt : types) rt->validations->stop();  // what is being validated is answered (503) first
    runner_.stop_replacing();
    for (auto& rt : types) rt->queue->close();

    if (const auto running = backend_.running(); !running.empty()) {
        log_info("drain: waiting up to " + std::to_string(settings_.drain_timeout.count()) + " ms for " +
                 std::to_string(running.size()) + " running jobs");
    }
    if (!backend_.wait_until_idle(settings_.drain_timeout)) {
        const auto running = backend_.running();
        log_info("drain: canceling " + std::to_string(running.size()) +
                 " running jobs; they will run again after the restart");
        for (const auto& a : running) a.control->request_stop(stop_reason::drain);
        backend_.wait_until_idle(settings_.cancel_grace);
    }
    // Plugins that ignore cancellation: store their jobs as queued anyway.
    std::vector<std::future<void>> writes;
    for (const auto& a : backend_.running()) {
        auto stored = std::make_shared<std::promise<void>>();
        if (backend_.requeue_for_restart(a, [stored] { stored->set_value(); })) writes.push_back(stored->get_future());
    }
    for (auto& w : writes) w.wait();
    // Workers still inside a plugin (which ignored the stop request) cannot be joined.
    bool all_stopped = true;
    for (const auto& rt : types) all_stopped = all_stopped && rt->busy.load() == 0;
    if (all_stopped) {
        for (auto& rt : types) join_workers(*rt);
    }
    return all_stopped;
}

// ---------------------------------------------------------------------------------------
// Submit

void job_engine::submit(submit_request req, std::function<void(submit_outcome)> done) {
    const auto rt = types_.find(req.type);
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
    if (type_config->refuse_when_paused && rt->queue->paused()) {
        rt->events->rejected(reject_reason::unavailable);
        done({submit_status::unavailable, {}, {}, "job type '" + req.type + "' is paused; retry later", {}});
        return;
    }
    req.schedule_capacity = type_config->schedule_capacity;
    if (req.input.size() > type_config->max_input_bytes) {
        rt->events->rejected(reject_reason::invalid_input);
        done({submit_status::invalid_input,
              {},
              {{"/input", "the input is " + std::to_string(req.input.size()) + " bytes; the job type '" + req.type +
                              "' accepts at most " + std::to_string(type_config->max_input_bytes)}},
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
    const auto& files = rt->handler->library().files();
    if (files) {
        auto errors = check_file_names(*files, req.files, rt->type);
        if (!errors.empty()) {
            rt->events->rejected(reject_reason::invalid_input);
            return done({submit_status::invalid_input, {}, std::move(errors),
                         "the files are not those this job type reads", {}});
        }
        req.declared_files = files;
    }
    auto errors = rt->handler->validate(req.input);
    if (!errors.empty()) {
        rt->events->rejected(reject_reason::invalid_input);
        for (auto& e : errors) e.pointer = "/input" + e.pointer;
        done({submit_status::invalid_input, {}, std::move(errors), "the input is not valid for this job type", {}});
        return;
    }
    backend_.accept(rt->queue, std::move(req), done);
}

void job_engine::pause(const std::string& type, bool paused, std::function<void(pause_result)> done) {
    if (types_.find(type) == nullptr) return done(pause_result::not_found);
    backend_.set_paused(type, paused, [done = std::move(done)](bool ok) {
        done(ok ? pause_result::done : pause_result::not_stored);
    });
}

std::vector<job_type_info> job_engine::types() const {
    std::vector<job_type_info> out;
    for (const auto& rt : types_.snapshot()) {
        const auto c = rt->config();
        const auto& lib = rt->handler->library();
        const auto& d = lib.descriptor();
        job_type_info t;
        t.type = rt->type;
        t.plugin = d.name;
        t.plugin_version = d.version;
        t.workers = c->workers;
        t.busy = rt->busy.load();
        t.queue_length = rt->queue->size();
        t.waiting_to_retry = rt->queue->waiting_to_retry();
        t.scheduled = rt->queue->scheduled();
        t.schedule_capacity = c->schedule_capacity;
        t.paused = rt->queue->paused();
        t.refuse_when_paused = c->refuse_when_paused;
        t.queue_capacity = rt->queue->capacity();
        t.oldest_queued_created_at = rt->queue->oldest_created_at();
        t.timeout_ms = c->timeout.count();
        t.retry = c->retry;
        t.retention_ms = c->retention.count();
        t.max_input_bytes = c->max_input_bytes;
        t.plugin_license = d.license ? d.license : "";
        t.plugin_description = d.description ? d.description : "";
        t.settings_schema = lib.settings_schema_text();
        t.input_schema = lib.input_schema_text();
        t.files = lib.files();
        out.push_back(std::move(t));
    }
    if (schedules_ != nullptr) {
        for (auto& s : schedules_->statuses()) {
            for (auto& t : out) {
                if (t.type == s.type) t.schedules.push_back(s);
            }
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// Reload

std::string job_engine::reload(const std::vector<job_type_config>& next, const job_type_factory& create) {
    std::lock_guard serial(reload_mutex_);
    std::map<std::string, job_type_ptr> current;
    for (auto& rt : types_.snapshot()) current[rt->type] = rt;

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
        adopt(*created.back());
        next_types.push_back(created.back());
    }
    for (const auto& [type, rt] : current) {
        if (wanted.count(type) == 0) retired.push_back(rt);
    }

    // The backend takes the retired types out only if none has unfinished jobs (all or
    // nothing, atomically with accepts); then the registry follows.
    std::vector<job_backend::retiring_queue> retiring;
    for (const auto& rt : retired) retiring.emplace_back(rt->queue.get(), rt->busy.load());
    backend_.set_queues(queues_of(next_types), retiring);
    types_.replace(next_types);
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
        if (c->workers > old->workers) runner_.start_workers(rt, c->workers - old->workers);
        if (c->workers < old->workers) rt->queue->retire(old->workers - c->workers);
        if (c->workers != old->workers) {
            note(rt->type + ": " + std::to_string(old->workers) + " -> " + std::to_string(c->workers) + " workers");
        }
    }
    for (const auto& rt : retired) {
        rt->queue->close();
        join_workers(*rt);
        if (wanted.count(rt->type) == 0) note("removed " + rt->type);
    }
    for (const auto& rt : created) {
        runner_.start_workers(rt, rt->config()->workers);
        note((current.count(rt->type) ? "replaced " : "added ") + rt->type);
    }
    return summary.empty() ? "job types unchanged (limits reapplied)" : summary;
}

}  // namespace ticketd
