// The host's side of the C ABI: the callbacks a plugin calls (ticketd_host_services).
// During a run they act on the attempt's job_context (what `ticketd_job*` points to);
// during validate() on the errors being collected; during create() on the metrics the
// plugin registers. Everything a plugin hands over is made safe here: text becomes valid
// UTF-8, media types and error codes are checked, NaN is ignored.
#pragma once

#include "model/submit.hpp"

#include <ticketd/plugin.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

// The C ABI's opaque types, as the host defines them.
struct ticketd_metric {
    std::function<void(double)> record;  // empty: records nothing
};
struct ticketd_validation {
    std::vector<ticketd::validation_error> errors;
};

namespace ticketd {

const ticketd_host_services& host_services();

// Where a plugin's own metrics go (metric_register), bound to the job type whose handler
// is being created.
class plugin_metric_registrar {
   public:
    virtual ~plugin_metric_registrar() = default;
    // A recorder for the new metric; an empty function refuses it (with `error` set).
    virtual std::function<void(double)> add(ticketd_metric_kind kind, const std::string& name,
                                            const std::string& help, const std::vector<double>& buckets,
                                            std::string& error) = 0;
};

// While it lives, metric_register calls on this thread (the plugin's create()) register
// with `registrar` (none: refused quietly) and keep their recorders in `metrics`.
class metric_registration {
   public:
    metric_registration(plugin_metric_registrar* registrar, std::string plugin,
                        std::vector<std::unique_ptr<ticketd_metric>>& metrics);
    ~metric_registration();
    metric_registration(const metric_registration&) = delete;
    metric_registration& operator=(const metric_registration&) = delete;

    ticketd_metric* add(ticketd_metric_kind kind, const std::string& name, const std::string& help,
                        const std::vector<double>& buckets);

   private:
    plugin_metric_registrar* registrar_;
    std::string plugin_;
    std::vector<std::unique_ptr<ticketd_metric>>& metrics_;
};

}  // namespace ticketd
