#include "metrics/daemon_metrics.hpp"

#include <ticketd/plugin.h>

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <sstream>

namespace ticketd {

namespace {

// 5 ms .. 1 h, roughly x2.5 per bucket.
const prometheus::Histogram::BucketBoundaries job_buckets = {0.005, 0.01, 0.025, 0.05, 0.1,  0.25, 0.5,  1,
                                                             2.5,   5,    10,    30,   60,   120,  300,  600,
                                                             1200,  1800, 3600};
const prometheus::Histogram::BucketBoundaries http_buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                              0.1,    0.25,  0.5,    1,     2.5,  5,     10,   30};
// 100 us (a fast SSD's flush) .. 2.5 s (a disk in trouble).
const prometheus::Histogram::BucketBoundaries sync_buckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                              0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
const prometheus::Histogram::BucketBoundaries apply_buckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                               0.25,  0.5,    1,     2.5,  5,     10,   30};

constexpr const char* method_names[] = {"GET", "HEAD", "POST", "DELETE", "PUT", "other"};
constexpr unsigned codes[] = {200, 201, 202, 204, 206, 303, 304, 400, 401, 403, 404, 405, 409,
                              410, 413, 415, 422, 429, 431, 500, 503, 507};
constexpr const char* reject_names[] = {"queue_full", "invalid_input", "unavailable", "store_error", "over_quota"};
constexpr const char* outcome_names[] = {"succeeded", "failed", "canceled", "timeout", "interrupted"};

template <class Builder>
auto& family(Builder builder, const char* name, const char* help, prometheus::Registry& registry) {
    return builder.Name(name).Help(help).Register(registry);
}

}  // namespace

daemon_metrics::daemon_metrics(std::string version, bool enabled)
    : enabled_(enabled),
      registry_(std::make_shared<prometheus::Registry>()),
      submitted_(family(prometheus::BuildCounter(), "ticketd_jobs_submitted_total",
                        "Jobs accepted (202, durable), by job type.", *registry_)),
      rejected_(family(prometheus::BuildCounter(), "ticketd_jobs_rejected_total",
                       "Submits refused, by job type and reason.", *registry_)),
      started_(family(prometheus::BuildCounter(), "ticketd_jobs_started_total", "Attempts started, by job type.",
                      *registry_)),
      completed_(family(prometheus::BuildCounter(), "ticketd_jobs_completed_total",
                        "Jobs that reached a terminal state, by job type and outcome.", *registry_)),
      retried_(family(prometheus::BuildCounter(), "ticketd_jobs_retried_total",
                      "Failed attempts queued again to run once more, by job type and reason (retryable: the "
                      "plugin asked; failure_code, timeout, interrupted: listed in retry.on).", *registry_)),
      queue_wait_(family(prometheus::BuildHistogram(), "ticketd_job_queue_wait_seconds",
                         "Time from being queued to starting, by job type.", *registry_)),
      duration_(family(prometheus::BuildHistogram(), "ticketd_job_duration_seconds",
                       "Run time of attempts, by job type.", *registry_)),
      busy_seconds_(family(prometheus::BuildCounter(), "ticketd_worker_busy_seconds_total",
                           "Seconds workers spent running jobs, by job type.", *registry_)),
      abandoned_(family(prometheus::BuildGauge(), "ticketd_workers_abandoned",
                        "Worker threads still inside a plugin that ignored its stop request past "
                        "cancel_grace (each replaced in its pool), by job type.",
                        *registry_)),
      principal_rejections_(family(prometheus::BuildCounter(), "ticketd_principal_rejections_total",
                                   "Requests a quota refused, by principal (those named under quotas.principals; "
                                   "the rest as \"other\") and reason.",
                                   *registry_)),
      http_requests_(family(prometheus::BuildCounter(), "ticketd_http_requests_total",
                            "HTTP requests, by route template, method and status code.", *registry_)),
      http_duration_(family(prometheus::BuildHistogram(), "ticketd_http_request_duration_seconds",
                            "Time to answer HTTP requests, by route template and method.", *registry_)),
      plugin_info_(family(prometheus::BuildGauge(), "ticketd_plugin_info",
                          "Loaded job types and their plugins (value 1).", *registry_)),
      plugin_load_failures_(family(prometheus::BuildCounter(), "ticketd_plugin_load_failures_total",
                                   "Plugins that failed to load or were refused.", *registry_)
                                .Add({})),
      reload_ok_(family(prometheus::BuildGauge(), "ticketd_config_last_reload_successful",
                        "1 if the last configuration load succeeded.", *registry_)
                     .Add({})),
      reload_time_(family(prometheus::BuildGauge(), "ticketd_config_last_reload_success_timestamp_seconds",
                          "When the configuration was last loaded successfully.", *registry_)
                       .Add({})),
      journal_sync_(family(prometheus::BuildHistogram(), "ticketd_store_journal_sync_duration_seconds",
                           "Time to append a group of job writes to the journal and fdatasync it.", *registry_)
                        .Add({}, sync_buckets)),
      journal_writes_(family(prometheus::BuildCounter(), "ticketd_store_journal_writes_total",
                             "Job writes made durable in the journal (accepts, state changes, removals).",
                             *registry_)
                          .Add({})),
      store_apply_(family(prometheus::BuildHistogram(), "ticketd_store_apply_duration_seconds",
                          "Time of one applier transaction putting journaled writes into SQLite.", *registry_)
                       .Add({}, apply_buckets)) {
    family(prometheus::BuildGauge(), "ticketd_build_info", "ticketd's version and plugin ABI (value 1).", *registry_)
        .Add({{"version", version},
              {"abi", std::to_string(TICKETD_PLUGIN_ABI_MAJOR) + "." + std::to_string(TICKETD_PLUGIN_ABI_MINOR)}})
        .Set(1);
}

job_type_metrics& daemon_metrics::add_job_type(const std::string& type, const std::string& plugin,
                                               const std::string& plugin_version) {
    auto m = std::make_unique<job_type_metrics>();
    m->enabled = enabled_;
    const prometheus::Labels labels{{"type", type}};
    m->submitted_ = &submitted_.Add(labels);
    for (size_t i = 0; i < m->rejected_.size(); ++i) {
        m->rejected_[i] = &rejected_.Add({{"type", type}, {"reason", reject_names[i]}});
    }
    m->started_ = &started_.Add(labels);
    for (size_t i = 0; i < m->completed_.size(); ++i) {
        m->completed_[i] = &completed_.Add({{"type", type}, {"outcome", outcome_names[i]}});
    }
    for (size_t i = 0; i < m->retried_.size(); ++i) {
        m->retried_[i] = &retried_.Add({{"type", type}, {"reason", retry_reason_names[i]}});
    }
    m->queue_wait_ = &queue_wait_.Add(labels, job_buckets);
    m->duration_ = &duration_.Add(labels, job_buckets);
    m->busy_seconds_ = &busy_seconds_.Add(labels);
    m->abandoned_ = &abandoned_.Add(labels);
    std::lock_guard lock(types_mutex_);
    // A type reloaded with another plugin: one info series per type, the current one.
    if (auto it = plugin_info_by_type_.find(type); it != plugin_info_by_type_.end()) plugin_info_.Remove(it->second);
    plugin_info_by_type_[type] = &plugin_info_.Add({{"type", type}, {"plugin", plugin}, {"version", plugin_version}});
    plugin_info_by_type_[type]->Set(1);
    types_.push_back(std::move(m));
    return *types_.back();
}

size_t daemon_metrics::method_index(std::string_view method) {
    for (size_t i = 0; i + 1 < method_count; ++i) {
        if (method == method_names[i]) return i;
    }
    return method_count - 1;
}

size_t daemon_metrics::code_index(unsigned status) {
    static_assert(std::size(codes) + 1 == code_count);
    for (size_t i = 0; i < std::size(codes); ++i) {
        if (codes[i] == status) return i;
    }
    return code_count - 1;
}

void daemon_metrics::principal_rejected(const std::string& principal, std::string_view reason) {
    if (enabled_) principal_rejections_.Add({{"principal", principal}, {"reason", std::string(reason)}}).Increment();
}

void daemon_metrics::observe_http(size_t route, std::string_view route_label, std::string_view method,
                                  unsigned status, double seconds) {
    if (!enabled_ || route >= max_http_routes) return;
    const size_t r = route, m = method_index(method), c = code_index(status);
    auto& counter_slot = http_counters_[(r * method_count + m) * code_count + c];
    auto* counter = counter_slot.load(std::memory_order_acquire);
    if (counter == nullptr) {  // first time for this combination: Family::Add is idempotent
        counter = &http_requests_.Add({{"handler", std::string(route_label)},
                                       {"method", method_names[m]},
                                       {"code", c + 1 == code_count ? "other" : std::to_string(codes[c])}});
        counter_slot.store(counter, std::memory_order_release);
    }
    counter->Increment();
    auto& histogram_slot = http_histograms_[r * method_count + m];
    auto* histogram = histogram_slot.load(std::memory_order_acquire);
    if (histogram == nullptr) {
        histogram = &http_duration_.Add({{"handler", std::string(route_label)}, {"method", method_names[m]}},
                                        http_buckets);
        histogram_slot.store(histogram, std::memory_order_release);
    }
    histogram->Observe(seconds);
}

void daemon_metrics::count_plugin_load_failure() { plugin_load_failures_.Increment(); }

std::function<void(double)> daemon_metrics::add_plugin_metric(const std::string& plugin, const std::string& type,
                                                              int kind, const std::string& name,
                                                              const std::string& help,
                                                              const std::vector<double>& buckets,
                                                              std::string& error) {
    const bool valid_name = !name.empty() && !(name[0] >= '0' && name[0] <= '9') &&
                            std::all_of(name.begin(), name.end(), [](char c) {
                                return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                            });
    if (!valid_name) {
        error = "names are [a-z_][a-z0-9_]*";
        return {};
    }
    std::string prefix = "ticketd_plugin_" + plugin + "_";
    std::replace(prefix.begin(), prefix.end(), '-', '_');
    const std::string full = prefix + name;
    const prometheus::Labels labels{{"type", type}};
    try {
        switch (kind) {
            case TICKETD_METRIC_COUNTER: {
                if (name.size() < 6 || name.compare(name.size() - 6, 6, "_total") != 0) {
                    error = "counter names end in _total";
                    return {};
                }
                auto& c = prometheus::BuildCounter().Name(full).Help(help).Register(*registry_).Add(labels);
                return [&c](double v) {
                    if (v >= 0) c.Increment(v);
                };
            }
            case TICKETD_METRIC_GAUGE: {
                auto& g = prometheus::BuildGauge().Name(full).Help(help).Register(*registry_).Add(labels);
                return [&g](double v) { g.Set(v); };
            }
            case TICKETD_METRIC_HISTOGRAM: {
                if (buckets.empty() || !std::is_sorted(buckets.begin(), buckets.end()) ||
                    std::adjacent_find(buckets.begin(), buckets.end()) != buckets.end()) {
                    error = "histograms need strictly increasing bucket bounds";
                    return {};
                }
                auto& h = prometheus::BuildHistogram().Name(full).Help(help).Register(*registry_).Add(labels, buckets);
                return [&h](double v) { h.Observe(v); };
            }
            default: error = "unknown metric kind " + std::to_string(kind); return {};
        }
    } catch (const std::exception& e) {
        error = e.what();  // e.g. the same name registered with another kind
        return {};
    }
}

void daemon_metrics::set_config_reload(bool ok, double unix_seconds) {
    reload_ok_.Set(ok ? 1 : 0);
    if (ok) reload_time_.Set(unix_seconds);
}

void daemon_metrics::journal_synced(double seconds, size_t writes) {
    if (!enabled_) return;
    journal_sync_.Observe(seconds);
    journal_writes_.Increment(static_cast<double>(writes));
}

void daemon_metrics::store_applied(double seconds) {
    if (enabled_) store_apply_.Observe(seconds);
}

void daemon_metrics::add_source(scrape_source source) {
    std::lock_guard lock(sources_mutex_);
    sources_.push_back(std::move(source));
}

std::string daemon_metrics::scrape() const {
    auto families = registry_->Collect();
    {
        std::lock_guard lock(sources_mutex_);
        for (const auto& source : sources_) source(families);
    }
    collect_process_metrics(families);
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, families);
    return out.str();
}

}  // namespace ticketd
