// GET /v1/job-types (what each type is, its limits, retry policy and queue), and
// POST /v1/job-types/{type}/pause and /resume (admin).
#include "api/routes.hpp"
#include "system/json_text.hpp"

namespace ticketd::routes {

namespace {

nlohmann::json retry_json(const retry_policy& p) {
    auto on = nlohmann::json::array();
    if (p.on_timeout) on.push_back("timeout");
    if (p.on_interrupted) on.push_back("interrupted");
    for (const auto& code : p.on_codes) on.push_back(code);
    return {{"maxAttempts", p.max_attempts},
            {"backoff",
             {{"initialSeconds", p.initial_ms / 1000.0},
              {"multiplier", p.multiplier},
              {"maxSeconds", p.max_delay_ms / 1000.0},
              {"jitter", p.jitter}}},
            {"on", std::move(on)},
            {"history", p.history}};
}

nlohmann::json schedules_json(const std::vector<schedule_status>& schedules) {
    auto out = nlohmann::json::array();
    const auto time = [](unix_ms t) { return t == 0 ? nlohmann::json(nullptr) : nlohmann::json(format_rfc3339(t)); };
    for (const auto& s : schedules) {
        out.push_back({{"name", s.name},
                       {"cron", s.cron},
                       {"timezone", s.time_zone},
                       {"nextFireAt", time(s.next_fire)},
                       {"lastFiredAt", time(s.last_fire)},
                       {"lastJobId", s.last_job.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.last_job)},
                       {"lastError", s.last_error.empty() ? nlohmann::json(nullptr)
                                                          : nlohmann::json{{"at", format_rfc3339(s.last_error_at)},
                                                                           {"detail", s.last_error}}}});
    }
    return out;
}

// The files its jobs read, as the plugin declared them; null: any files.
nlohmann::json files_json(const declared_files* files) {
    if (files == nullptr) return nullptr;
    auto out = nlohmann::json::object();
    for (const auto& f : *files) {
        auto& spec = out[f.name] = {{"required", f.required}};
        if (!f.media_types.empty()) spec["mediaTypes"] = f.media_types;
        if (f.max_bytes > 0) spec["maxBytes"] = f.max_bytes;
        if (!f.description.empty()) spec["description"] = f.description;
    }
    return out;
}

nlohmann::json type_json(const job_type_info& t) {
    const auto schema = [](const std::string& text) {  // none: {} (any value)
        return text.empty() ? nlohmann::json::object() : nlohmann::json::parse(text);
    };
    return {
            {"type", t.type},
            {"plugin", {{"name", t.plugin}, {"version", t.plugin_version}, {"license", t.plugin_license},
                        {"description", t.plugin_description}}},
            {"inputSchema", schema(t.input_schema)},
            {"settingsSchema", schema(t.settings_schema)},
            {"files", files_json(t.files.get())},
            {"workers", t.workers},
            {"busyWorkers", t.busy},
            {"queueLength", t.queue_length},
            {"queueCapacity", t.queue_capacity},
            {"scheduledJobs", t.scheduled},
            {"scheduleCapacity", t.schedule_capacity},
            {"timeoutSeconds", t.timeout_ms / 1000.0},
            {"maxAttempts", t.retry.max_attempts},
            {"retry", retry_json(t.retry)},
            {"retentionSeconds", t.retention_ms / 1000},
            {"maxInputBytes", t.max_input_bytes},
            {"paused", t.paused},
            {"whenPaused", t.refuse_when_paused ? "refuse" : "accept"},
            {"schedules", schedules_json(t.schedules)},
    };
}

http_response json_response(const nlohmann::json& body) {
    http_response res;
    res.set("Content-Type", "application/json");
    res.set("Cache-Control", "no-cache");
    res.body = json_text(body);
    return res;
}

// POST /v1/job-types/{type}/pause and /resume.
void set_paused(const call_ptr& c, const std::string& type, bool paused) {
    if (!c->req.body.empty() && c->req.body != "{}") {
        return c->problem(400, "invalid-request", "pausing or resuming a job type takes no body (or {})");
    }
    const auto not_found = [c] { c->problem(404, "job-type-not-found", "this ticketd serves no job type of that name"); };
    if (!is_type_name(type)) return not_found();
    c->api.jobs.pause(type, paused, [c, type, not_found](job_service::pause_result result) {
        switch (result) {
            case job_service::pause_result::not_found: return not_found();
            case job_service::pause_result::not_stored: {
                auto res = make_problem(c->ctx, 503, "unavailable", "the change could not be stored; retry later");
                res.set("Retry-After", std::to_string(store_retry_after));
                return c->respond(std::move(res));
            }
            case job_service::pause_result::done: break;
        }
        for (const auto& t : c->api.jobs.types()) {
            if (t.type == type) return c->respond(json_response(type_json(t)));
        }
        not_found();  // removed by a reload meanwhile
    });
}

}  // namespace

void list_job_types(const call_ptr& c, const std::string&) {
    nlohmann::json types = nlohmann::json::array();
    for (const auto& t : c->api.jobs.types()) types.push_back(type_json(t));
    c->respond(json_response(nlohmann::json{{"jobTypes", std::move(types)}}));
}

void pause_job_type(const call_ptr& c, const std::string& type) { set_paused(c, type, true); }
void resume_job_type(const call_ptr& c, const std::string& type) { set_paused(c, type, false); }


}  // namespace ticketd::routes
