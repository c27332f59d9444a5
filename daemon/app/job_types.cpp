#include "app/job_types.hpp"

#include "plugins/host_services.hpp"

#include <optional>

namespace ticketd {

namespace fs = std::filesystem;

namespace {

fs::path plugin_path(const daemon_config& config, const job_type_config& t) {
    const fs::path p(t.plugin);
    return p.is_absolute() ? p : config.plugin_dir / p;
}

// Registers a plugin's own metrics under its name, labelled with the job type.
class job_type_metric_registrar final : public plugin_metric_registrar {
   public:
    job_type_metric_registrar(daemon_metrics& metrics, std::string plugin, std::string type)
        : metrics_(metrics), plugin_(std::move(plugin)), type_(std::move(type)) {}
    std::function<void(double)> add(ticketd_metric_kind kind, const std::string& name, const std::string& help,
                                    const std::vector<double>& buckets, std::string& error) override {
        auto record = metrics_.add_plugin_metric(plugin_, type_, kind, name, help, buckets, error);
        if (!record) refused.push_back("metric '" + name + "' (" + error + ")");
        return record;
    }
    std::vector<std::string> refused;  // what the daemon would log and not export

   private:
    daemon_metrics& metrics_;
    std::string plugin_, type_;
};

// The plugin's instance for a job type, its metrics registered in `metrics` (if given);
// `strict`: a metric the daemon would refuse (and only log) is a plugin_error instead.
std::unique_ptr<job_handler> make_handler(const std::shared_ptr<plugin_library>& library, const std::string& settings,
                                          const std::string& type, daemon_metrics* metrics, bool strict) {
    std::optional<job_type_metric_registrar> registrar;
    if (metrics) registrar.emplace(*metrics, library->descriptor().name, type);
    auto handler = std::make_unique<job_handler>(library, settings, registrar ? &*registrar : nullptr);
    if (strict && registrar && !registrar->refused.empty()) {
        std::string found;
        for (const auto& r : registrar->refused) found += (found.empty() ? "" : "; ") + r;
        throw plugin_error(library->file().string() + ": expected metrics the daemon can export, found " + found +
                           "; fix: rename them ([a-z_][a-z0-9_]*, counters ending in _total, histogram bounds "
                           "increasing)");
    }
    return handler;
}

}  // namespace

std::unique_ptr<job_handler> make_checked_handler(const std::shared_ptr<plugin_library>& library,
                                                  const std::string& settings) {
    daemon_metrics scratch("check");
    return make_handler(library, settings, "check", &scratch, true);
}

job_type_ptr make_job_type(const daemon_config& config, const job_type_config& t, daemon_metrics* metrics, bool strict) {
    try {
        auto rt = std::make_shared<job_type_runtime>(t);
        auto library = plugin_library::load(plugin_path(config, t));
        rt->handler = make_handler(library, t.settings, t.type, metrics, strict);
        for (const auto& s : t.schedules) {  // a schedule whose input the plugin refuses would fail at every fire
            const auto errors = rt->handler->validate(s.input);
            if (!errors.empty()) {
                throw config_error(s.where + ": schedule '" + s.name + "': its input is not valid for job type '" + t.type +
                                   "': /input" + errors.front().pointer + ": " + errors.front().detail +
                                   "; fix: correct the schedule's input");
            }
        }
        rt->validations = std::make_unique<task_pool>(t.validate_threads, "td-v-" + t.type);
        if (metrics) {
            const auto& d = library->descriptor();
            rt->events = &metrics->add_job_type(t.type, d.name, d.version);
        }
        return rt;
    } catch (const plugin_error& e) {
        if (metrics) metrics->count_plugin_load_failure();
        throw plugin_error(t.plugin_where + ": job type '" + t.type + "': " + e.what());
    }
}

std::vector<job_type_ptr> load_job_types(const daemon_config& config, daemon_metrics* metrics, bool strict) {
    std::vector<job_type_ptr> out;
    for (const auto& t : config.job_types) out.push_back(make_job_type(config, t, metrics, strict));
    return out;
}

}  // namespace ticketd
