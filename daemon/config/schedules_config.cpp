// A job type's `schedules:` (periodic jobs; docs/operations.md, "Periodic jobs"): each
// entry's cron expression and time zone are checked here, so that a mistake stops the
// start or the reload with its file and line.
#include "config/yaml_section.hpp"
#include "system/cron_schedule.hpp"

namespace ticketd {

namespace {

bool is_schedule_name(std::string_view name) {
    return !name.empty() && name.size() <= 64 &&
           name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") == std::string_view::npos;
}

// A mapping given as YAML, as compact JSON text (an input or labels).
std::string object_text(section& s, const std::string& key) {
    const auto node = s.get(key);
    if (!node) return "{}";
    if (!node->IsMap()) s.fail(*node, "'" + key + "' must be a mapping", "indent its keys under it");
    try {
        return yaml_to_json(*node).dump();
    } catch (const nlohmann::json::exception&) {
        s.fail(*node, "'" + key + "' holds text that is not valid UTF-8", "write it as UTF-8");
    }
}

}  // namespace

std::vector<schedule_config> load_schedules(section& top) {
    std::vector<schedule_config> out;
    const auto node = top.get("schedules");
    if (!node) return out;
    if (!node->IsMap()) {
        top.fail(*node, "'schedules' must be a mapping of names to schedules",
                 "write e.g. schedules:\\n  nightly:\\n    cron: \"0 3 * * *\"");
    }
    section all = top.child("schedules");
    for (const auto& kv : *node) {
        schedule_config c;
        c.name = kv.first.Scalar();
        if (!is_schedule_name(c.name)) {
            all.fail(kv.first, "a schedule's name must be 1-64 characters of a-z, 0-9, '-' or '_', found '" + c.name + "'",
                     "rename the schedule");
        }
        section s = all.child(c.name);
        const auto cron = s.get("cron");
        if (!cron) s.fail(kv.second.IsDefined() ? kv.second : kv.first, "schedule '" + c.name + "' has no 'cron'",
                          "add e.g. cron: \"*/5 * * * *\"");
        c.cron = s.string("cron", "");
        c.time_zone = s.string("timezone", c.time_zone);
        try {
            cron_schedule::parse(c.cron, c.time_zone);
        } catch (const std::invalid_argument& e) {
            s.fail(*cron, "schedule '" + c.name + "': " + e.what(),
                   "write five fields (minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, "
                   "@monthly, @yearly, and a time zone such as UTC or Europe/Paris");
        }
        c.input = object_text(s, "input");
        c.labels = object_text(s, "labels");
        c.principal = s.string("principal", c.principal);
        if (c.principal.empty() || c.principal.size() > 128) {
            s.fail(*s.get("principal"), "'principal' must be 1-128 characters", "name the principal the jobs belong to");
        }
        if (const auto priority = s.get("priority")) {
            const std::string v = priority->IsScalar() ? priority->Scalar() : "";
            const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), c.priority);
            if (v.empty() || ec != std::errc() || end != v.data() + v.size() || c.priority < -1000 || c.priority > 1000) {
                s.fail(*priority, "'priority' must be a whole number from -1000 to 1000, found '" + v + "'",
                       "higher runs first; 0 is the default");
            }
        }
        if (const auto policy = s.get("catch_up")) {
            const std::string v = policy->IsScalar() ? policy->Scalar() : "";
            if (v == "none") c.catch_up = schedule_config::catch_up_policy::none;
            else if (v == "last") c.catch_up = schedule_config::catch_up_policy::last;
            else if (v == "all") c.catch_up = schedule_config::catch_up_policy::all;
            else s.fail(*policy, "'catch_up' must be none, last or all, found '" + v + "'",
                        "none: skip the fire times missed while ticketd was down; last: fire the latest; all: "
                        "fire each (at most catch_up_limit)");
        }
        c.catch_up_limit = static_cast<unsigned>(s.integer("catch_up_limit", c.catch_up_limit, 1, 1000));
        const auto mark = kv.first.Mark();
        c.where = s.file() + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
        s.finish();
        out.push_back(std::move(c));
    }
    return out;
}

}  // namespace ticketd
