#include "app/status_gauges.hpp"

#include <utility>

namespace ticketd {

void add_queue_gauges(daemon_metrics& metrics, const job_engine& engine) {
    metrics.add_source([&engine](std::vector<prometheus::MetricFamily>& out) {
        const auto types = engine.types();
        const unix_ms now = now_unix_ms();
        struct gauge {
            const char* name;
            const char* help;
            double (*value)(const job_type_info& t, unix_ms now);
        };
        static constexpr gauge gauges[] = {
            {"ticketd_queue_length", "Jobs waiting in the queue (including retries waiting for their backoff).",
             [](const job_type_info& t, unix_ms) { return static_cast<double>(t.queue_length); }},
            {"ticketd_queue_capacity", "The queue's capacity (queue_capacity).",
             [](const job_type_info& t, unix_ms) { return static_cast<double>(t.queue_capacity); }},
            {"ticketd_queue_oldest_job_age_seconds", "Age of the oldest queued job (0 when the queue is empty).",
             [](const job_type_info& t, unix_ms now) {
                 return t.oldest_queued_created_at ? (now - t.oldest_queued_created_at) / 1000.0 : 0.0;
             }},
            {"ticketd_workers", "Worker threads of the job type's pool.",
             [](const job_type_info& t, unix_ms) { return static_cast<double>(t.workers); }},
            {"ticketd_workers_busy", "Workers running a job right now.",
             [](const job_type_info& t, unix_ms) { return static_cast<double>(t.busy); }},
            {"ticketd_queue_retry_waiting", "Queued jobs waiting out a retry's backoff (of ticketd_queue_length).",
             [](const job_type_info& t, unix_ms) { return static_cast<double>(t.waiting_to_retry); }},
            {"ticketd_job_type_paused", "1 while the job type is paused (POST /v1/job-types/{type}/pause).",
             [](const job_type_info& t, unix_ms) { return t.paused ? 1.0 : 0.0; }},
            {"ticketd_jobs_scheduled", "Scheduled jobs not yet due (runAt, delaySeconds; apart from the queue).",
             [](const job_type_info& t, unix_ms) { return static_cast<double>(t.scheduled); }},
        };
        for (const auto& g : gauges) {
            out.push_back({g.name, g.help, prometheus::MetricType::Gauge, {}});
            for (const auto& t : types) {
                prometheus::ClientMetric m;
                m.label = {{"type", t.type}};
                m.gauge.value = g.value(t, now);
                out.back().metric.push_back(std::move(m));
            }
        }
    });
}

void add_store_metrics(daemon_metrics& metrics, sqlite_store& store) {
    store.set_observer({
        [&metrics](std::chrono::duration<double> took, size_t writes) { metrics.journal_synced(took.count(), writes); },
        [&metrics](std::chrono::duration<double> took, size_t) { metrics.store_applied(took.count()); },
    });
    metrics.add_source([&store](std::vector<prometheus::MetricFamily>& out) {
        prometheus::ClientMetric m;
        m.gauge.value = static_cast<double>(store.unapplied_writes());
        out.push_back({"ticketd_store_unapplied_writes",
                       "Job writes durable in the journal but not yet applied to the SQLite database.",
                       prometheus::MetricType::Gauge,
                       {std::move(m)}});
    });
}

void add_principal_gauges(daemon_metrics& metrics, const quota_keeper& quotas, const embedded_backend& backend) {
    metrics.add_source([&quotas, &backend](std::vector<prometheus::MetricFamily>& out) {
        const auto limits = quotas.limits();
        if (limits->principals.empty()) return;
        prometheus::MetricFamily f{"ticketd_principal_live_jobs",
                                   "Queued and running jobs of each principal named under quotas.principals.",
                                   prometheus::MetricType::Gauge, {}};
        for (const auto& [name, l] : limits->principals) {
            prometheus::ClientMetric m;
            m.label = {{"principal", name}};
            m.gauge.value = static_cast<double>(backend.live_jobs(name));
            f.metric.push_back(std::move(m));
        }
        out.push_back(std::move(f));
    });
}

std::string status_line(const job_engine& engine) {
    uint64_t queued = 0, running = 0;
    const auto types = engine.types();
    for (const auto& t : types) {
        queued += t.queue_length;
        running += t.busy;
    }
    return std::to_string(types.size()) + " job types; " + std::to_string(queued) + " queued, " +
           std::to_string(running) + " running";
}

}  // namespace ticketd
