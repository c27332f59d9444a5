// Loading job-type plugins (.so) through the v1 C ABI, and the per-job-type handler
// instance that the daemon calls. Libraries are never unloaded while the daemon runs:
// every handler holds its library, and `destroy` runs before the library is released.
#pragma once

#include "jobs/job_context.hpp"
#include "plugins/json_schema.hpp"

#include <ticketd/plugin.h>

struct ticketd_metric {
    std::function<void(double)> record;  // empty: records nothing
};

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ticketd {

// One line: file, what was expected, what was found, the fix.
class plugin_error : public std::runtime_error {
   public:
    using std::runtime_error::runtime_error;
};

class plugin_library {
   public:
    // Pre-checks that the file exports the entry symbol before running any of its code,
    // then loads it with RTLD_NOW | RTLD_LOCAL and checks the descriptor.
    static std::shared_ptr<plugin_library> load(const std::filesystem::path& file);
    ~plugin_library();

    const ticketd_plugin_descriptor& descriptor() const { return *descriptor_; }
    const std::filesystem::path& file() const { return file_; }
    // The plugin's schemas, compiled; nullptr when it declares none (any value).
    const json_schema* settings_schema() const { return settings_schema_.get(); }
    const json_schema* input_schema() const { return input_schema_.get(); }

   private:
    plugin_library() = default;
    struct impl;
    std::unique_ptr<impl> impl_;
    std::filesystem::path file_;
    const ticketd_plugin_descriptor* descriptor_ = nullptr;
    std::unique_ptr<json_schema> settings_schema_;
    std::unique_ptr<json_schema> input_schema_;
};

struct validation_error {
    std::string pointer;  // JSON Pointer into the job's input
    std::string detail;
};

// Where a plugin's own metrics go (ticketd_host_services::metric_register), bound to
// the job type whose handler is being created.
class plugin_metric_registrar {
   public:
    virtual ~plugin_metric_registrar() = default;
    // A recorder for the new metric; an empty function refuses it (with `error` set).
    virtual std::function<void(double)> add(ticketd_metric_kind kind, const std::string& name,
                                            const std::string& help, const std::vector<double>& buckets,
                                            std::string& error) = 0;
};

class job_handler {
   public:
    // Throws plugin_error when the settings fail the plugin's schema or `create` fails.
    // Metrics the plugin registers in `create` go to `metrics` (none when null).
    job_handler(std::shared_ptr<plugin_library> library, const nlohmann::json& settings,
                plugin_metric_registrar* metrics = nullptr);
    ~job_handler();
    job_handler(const job_handler&) = delete;
    job_handler& operator=(const job_handler&) = delete;

    // The input schema's violations, then (if none) the plugin's own validate().
    std::vector<validation_error> validate(const nlohmann::json& input) const;
    ticketd_run_status run(job_context& context, const std::string& input_json) const;

    const plugin_library& library() const { return *library_; }

   private:
    std::shared_ptr<plugin_library> library_;
    ticketd_instance* instance_ = nullptr;
    std::vector<std::unique_ptr<ticketd_metric>> metrics_;  // what the plugin registered
};

}  // namespace ticketd
