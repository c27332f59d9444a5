// What the daemon says about itself while it runs: scrape-time gauges of the queues and
// the store for Prometheus, and a line for systemd's STATUS=.
#pragma once

#include "auth/quotas.hpp"
#include "embedded/embedded_backend.hpp"
#include "jobs/job_engine.hpp"
#include "metrics/daemon_metrics.hpp"
#include "store/sqlite_store.hpp"

#include <string>

namespace ticketd {

// Queue state and workers, read from the engine at scrape time (never the store).
void add_queue_gauges(daemon_metrics& metrics, const job_engine& engine);
// The store's durability path: journal syncs, applier transactions, how far the applier
// is behind the journal (docs/monitoring.md, docs/operations.md).
void add_store_metrics(daemon_metrics& metrics, sqlite_store& store);
// ticketd_principal_live_jobs{principal}: the queued and running jobs of each principal
// named under quotas.principals (a bounded label set), read at scrape time.
void add_principal_gauges(daemon_metrics& metrics, const quota_keeper& quotas, const embedded_backend& backend);
// "3 job types; 12 queued, 4 running".
std::string status_line(const job_engine& engine);

}  // namespace ticketd
