// Making a job type from its configuration: its plugin loaded and checked, its handler
// created with the type's settings, its validation pool, its metrics registered.
#pragma once

#include "config/config.hpp"
#include "jobs/job_type.hpp"
#include "metrics/daemon_metrics.hpp"

#include <vector>

namespace ticketd {

// Throws plugin_error with the job type's file and line prepended. Registers the type's
// metrics (and the plugin's own) when `metrics` is given; `strict` (the check commands):
// a plugin metric the daemon would refuse, and only log, is an error.
job_type_ptr make_job_type(const daemon_config& config, const job_type_config& t, daemon_metrics* metrics,
                           bool strict = false);
std::vector<job_type_ptr> load_job_types(const daemon_config& config, daemon_metrics* metrics = nullptr,
                                         bool strict = false);
// --check-plugin's instance: created with `settings`, its metrics checked strictly.
std::unique_ptr<job_handler> make_checked_handler(const std::shared_ptr<plugin_library>& library,
                                                  const std::string& settings);

}  // namespace ticketd
