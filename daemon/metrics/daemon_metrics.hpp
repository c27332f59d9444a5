// ticketd's Prometheus metrics (prometheus-cpp core). Labelled children are looked up
// once (per job type at registration, per HTTP route/method/code on first use) so the
// hot path only increments or observes. Values that are cheap to read but costly to
// keep current (queue lengths, the oldest queued job, process figures) are computed at
// scrape time by registered sources. A scrape never touches the store.
#pragma once

#include "jobs/job_events.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ticketd {

// One job type's children, looked up when the type registers. With instrumentation
// off (metrics.enabled: false) every call is a no-op.
struct job_type_metrics final : job_type_events {
    bool enabled = true;
    prometheus::Counter* submitted_ = nullptr;
    std::array<prometheus::Counter*, 5> rejected_{};   // by reject_reason
    prometheus::Counter* started_ = nullptr;
    std::array<prometheus::Counter*, 5> completed_{};  // by job_outcome
    std::array<prometheus::Counter*, std::size(retry_reason_names)> retried_{};  // by retry_reason
    prometheus::Histogram* queue_wait_ = nullptr;
    prometheus::Histogram* duration_ = nullptr;
    prometheus::Counter* busy_seconds_ = nullptr;
    prometheus::Gauge* abandoned_ = nullptr;

    void submitted() override {
        if (enabled) submitted_->Increment();
    }
    void rejected(reject_reason r) override {
        if (enabled) rejected_[static_cast<size_t>(r)]->Increment();
    }
    void started(double queue_wait_seconds) override {
        if (!enabled) return;
        started_->Increment();
        queue_wait_->Observe(queue_wait_seconds);
    }
    void ran(double seconds) override {
        if (!enabled) return;
        duration_->Observe(seconds);
        busy_seconds_->Increment(seconds);
    }
    void completed(job_outcome o) override {
        if (enabled) completed_[static_cast<size_t>(o)]->Increment();
    }
    void retried(retry_reason why) override {
        if (enabled) retried_[static_cast<size_t>(why)]->Increment();
    }
    void worker_abandoned(double change) override {
        if (enabled) abandoned_->Increment(change);
    }
};

class daemon_metrics {
   public:
    // Appends families computed at scrape time.
    using scrape_source = std::function<void(std::vector<prometheus::MetricFamily>&)>;

    // `enabled` false: nothing is recorded (for measuring what instrumentation costs).
    daemon_metrics(std::string version, bool enabled = true);
    daemon_metrics(const daemon_metrics&) = delete;
    daemon_metrics& operator=(const daemon_metrics&) = delete;

    job_type_metrics& add_job_type(const std::string& type, const std::string& plugin, const std::string& plugin_version);
    // An answer to a request of the route numbered `route` (< max_http_routes; the API's
    // table numbers them), whose template `route_label` is the metric's handler label
    // (never a raw path).
    static constexpr size_t max_http_routes = 16;
    void observe_http(size_t route, std::string_view route_label, std::string_view method, unsigned status,
                      double seconds);
    void count_plugin_load_failure();
    // A request a principal's quota refused. `principal` must come from the configuration
    // (a name under quotas.principals, or "other"), never from a request: the label set
    // stays bounded. `reason`: rate_limited, live_jobs, priority, upload_bytes.
    void principal_rejected(const std::string& principal, std::string_view reason);
    // A plugin's own metric: ticketd_plugin_<plugin>_<name>{type=...}. Returns its
    // recorder, or an empty function (and `error`) when the name or buckets are invalid.
    std::function<void(double)> add_plugin_metric(const std::string& plugin, const std::string& type, int kind,
                                                  const std::string& name, const std::string& help,
                                                  const std::vector<double>& buckets, std::string& error);
    void set_config_reload(bool ok, double unix_seconds);
    // The store's durability path: a group of job writes appended to the journal and
    // fdatasync'd (its time is every accept's floor), an applier transaction into SQLite.
    void journal_synced(double seconds, size_t writes);
    void store_applied(double seconds);
    void add_source(scrape_source source);

    // The text exposition format (version 0.0.4).
    std::string scrape() const;
    static constexpr const char* content_type = "text/plain; version=0.0.4; charset=utf-8";

   private:
    static constexpr size_t method_count = 6;  // GET HEAD POST DELETE PUT/PATCH/other
    static constexpr size_t code_count = 23;  // the codes answered (daemon_metrics.cpp), and "other"
    static size_t method_index(std::string_view method);
    static size_t code_index(unsigned status);

    bool enabled_;
    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Counter>& submitted_;
    prometheus::Family<prometheus::Counter>& rejected_;
    prometheus::Family<prometheus::Counter>& started_;
    prometheus::Family<prometheus::Counter>& completed_;
    prometheus::Family<prometheus::Counter>& retried_;
    prometheus::Family<prometheus::Histogram>& queue_wait_;
    prometheus::Family<prometheus::Histogram>& duration_;
    prometheus::Family<prometheus::Counter>& busy_seconds_;
    prometheus::Family<prometheus::Gauge>& abandoned_;
    prometheus::Family<prometheus::Counter>& principal_rejections_;
    prometheus::Family<prometheus::Counter>& http_requests_;
    prometheus::Family<prometheus::Histogram>& http_duration_;
    prometheus::Family<prometheus::Gauge>& plugin_info_;
    prometheus::Counter& plugin_load_failures_;
    prometheus::Gauge& reload_ok_;
    prometheus::Gauge& reload_time_;
    prometheus::Histogram& journal_sync_;
    prometheus::Counter& journal_writes_;
    prometheus::Histogram& store_apply_;

    // Lazily filled, then read lock-free.
    std::array<std::atomic<prometheus::Counter*>, max_http_routes * method_count * code_count> http_counters_{};
    std::array<std::atomic<prometheus::Histogram*>, max_http_routes * method_count> http_histograms_{};

    std::mutex types_mutex_;
    std::vector<std::unique_ptr<job_type_metrics>> types_;
    std::map<std::string, prometheus::Gauge*> plugin_info_by_type_;
    mutable std::mutex sources_mutex_;
    std::vector<scrape_source> sources_;
};

// process_* metrics read from /proc/self (prometheus-cpp has none).
void collect_process_metrics(std::vector<prometheus::MetricFamily>& out);

}  // namespace ticketd
