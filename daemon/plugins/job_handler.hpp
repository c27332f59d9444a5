// A job type's instance of its plugin: created with the type's settings, it validates
// inputs and runs attempts. `destroy` runs before the library is let go.
#pragma once

#include "model/submit.hpp"
#include "plugins/job_context.hpp"
#include "plugins/plugin_library.hpp"

#include <ticketd/plugin.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ticketd {

class plugin_metric_registrar;

class job_handler {
   public:
    // `settings_json`: a JSON object as text. Throws plugin_error when the settings fail the
    // plugin's schema or `create` fails. Metrics the plugin registers in `create` go to
    // `metrics` (none when null).
    job_handler(std::shared_ptr<plugin_library> library, const std::string& settings_json,
                plugin_metric_registrar* metrics = nullptr);
    ~job_handler();
    job_handler(const job_handler&) = delete;
    job_handler& operator=(const job_handler&) = delete;

    // `input_json`: a JSON object as text. The input schema's violations, then (if none)
    // the plugin's own validate().
    std::vector<validation_error> validate(std::string_view input_json) const;
    ticketd_run_status run(job_context& context, const std::string& input_json) const;

    const plugin_library& library() const { return *library_; }

   private:
    std::shared_ptr<plugin_library> library_;
    ticketd_instance* instance_ = nullptr;
    std::vector<std::unique_ptr<ticketd_metric>> metrics_;  // what the plugin registered
};

}  // namespace ticketd
