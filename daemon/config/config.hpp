// The daemon's configuration: ticketd.yaml plus one file per job type in jobs.d/.
// Loading validates everything (unknown keys, types, units, ranges) and throws
// config_error naming file, line, column, what was expected and the fix.
#pragma once

#include "model/retry_policy.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ticketd {

struct principal_weights;
using std::chrono::milliseconds;

class config_error : public std::runtime_error {
   public:
    using std::runtime_error::runtime_error;
};

// server.tls: HTTPS on server.listen (TLS 1.2 and 1.3). With client_ca, every client must
// present a certificate that CA issued (mTLS).
struct tls_config {
    std::filesystem::path certificate;  // PEM: the server's certificate, then its chain
    std::filesystem::path private_key;  // PEM
    std::filesystem::path client_ca;    // PEM: the CAs client certificates must chain to
    milliseconds handshake_timeout{10'000};

    bool enabled() const { return !certificate.empty(); }
};

struct server_config {
    std::string listen_host = "127.0.0.1";
    uint16_t listen_port = 8080;
    std::string public_base_url;  // empty: http://<listen address>
    unsigned io_threads = 2;
    uint64_t max_body_bytes = 1 << 20;
    uint64_t max_header_bytes = 16 << 10;
    unsigned max_json_depth = 64;  // objects and arrays nested in a request body
    milliseconds idle_timeout{60'000};
    milliseconds request_timeout{30'000};
    milliseconds write_timeout{30'000};    // an answer's write must progress within this
    uint64_t min_body_rate = 1024;          // bytes/s a body must average past request_timeout; 0: off
    uint64_t max_chunk_header_bytes = 8 << 10;  // a chunk-size line (extensions too) or the trailer
    uint64_t max_body_memory = 256 << 20;   // request bodies held in memory at once, all connections
    unsigned max_connections = 10'000;
    unsigned max_connections_per_client = 256;  // per client IP address
    unsigned max_waiters = 5'000;
    milliseconds max_wait{30'000};
    tls_config tls;
};

struct metrics_config {
    bool enabled = true;       // false: nothing is recorded and /metrics is not served
    std::string listen_host;   // empty: /metrics on the main listener
    uint16_t listen_port = 0;
};

enum class auth_mode { none, api_keys, mtls };
// Which name of a client certificate is its principal (auth.mode mtls).
enum class mtls_identity { common_name, uri };

struct auth_config {
    auth_mode mode = auth_mode::none;
    std::filesystem::path keys_file;     // auth.keys_file (default keys.yaml next to ticketd.yaml)
    mtls_identity identity = mtls_identity::common_name;  // auth.mtls_identity
    bool allow_unauthenticated = false;  // mode none on an address other than loopback
    unsigned max_denied_log_lines = 20;  // per second; the rest are counted in one line
};

// What one principal may hold and do: `quotas.default`, overridden key by key for the
// principals named under `quotas.principals`. Applied from the next request at a reload.
struct principal_limits {
    uint64_t max_live_jobs = 0;     // queued and running jobs at once; 0: no limit
    uint64_t max_upload_bytes = 0;  // bytes of uploads held at once; 0: no limit
    int32_t max_priority = 1000;    // the highest `priority` a submit may ask for
    double submit_rate = 0;         // submits a second, as a token bucket's refill; 0: no limit
    uint64_t submit_burst = 0;      // the bucket's size; 0: the rate's one second (at least 1)
    unsigned weight = 1;            // its share of each job type's workers (fair queues)
};

struct quotas_config {
    principal_limits defaults;
    std::map<std::string, principal_limits> principals;

    const principal_limits& of(const std::string& principal) const {
        const auto it = principals.find(principal);
        return it == principals.end() ? defaults : it->second;
    }
};

struct uploads_config {
    uint64_t max_bytes = 1ULL << 30;         // per upload
    milliseconds ttl{24LL * 3600'000};       // kept this long unless a job pins it
};

inline retry_policy default_retry_policy() {
    retry_policy p;
    p.max_attempts = 3;
    p.initial_ms = 5'000;
    return p;
}

// One of a job type's `schedules:` (periodic jobs): an ordinary job submitted at each of
// its cron times.
struct schedule_config {
    std::string name;            // [a-z0-9_-], unique within the type
    std::string cron;            // crontab(5), checked at load
    std::string time_zone = "UTC";
    std::string input = "{}";    // JSON text
    std::string labels = "{}";   // JSON text
    std::string principal = "anonymous";  // whose jobs they are
    int32_t priority = 0;
    // After a downtime: fire none of the slots missed, the last one, or all of them (the
    // newest catch_up_limit).
    enum class catch_up_policy { none, last, all } catch_up = catch_up_policy::none;
    unsigned catch_up_limit = 10;
    std::string where;  // "file:line:column", for messages

    bool operator==(const schedule_config&) const = default;
};

struct job_type_config {
    std::string file;  // where it was declared, for messages
    std::string type;
    std::string plugin;        // file name in plugin_dir, or an absolute path
    std::string plugin_where;  // "file:line:column" of the plugin key, for messages
    unsigned workers = 1;
    unsigned validate_threads = 2;  // run the plugin's validate() off the io threads (0: on them)
    uint64_t queue_capacity = 1000;
    milliseconds timeout{10 * 60'000};
    // retry: (max_attempts and retry_backoff are its shorthand): 3 attempts, 5 s doubling.
    retry_policy retry = default_retry_policy();
    milliseconds retention{7LL * 24 * 3600'000};
    uint64_t max_input_bytes = 256 << 10;
    bool refuse_when_paused = false;  // when_paused: accept (queued, they wait) | refuse (503)
    uint64_t schedule_capacity = 1'000'000;  // scheduled jobs not yet due (apart from queue_capacity)
    std::vector<schedule_config> schedules;
    std::string settings = "{}";  // the plugin's settings: a JSON object as compact text
};

struct daemon_config {
    std::filesystem::path file;
    server_config server;
    metrics_config metrics;
    auth_config auth;
    uploads_config uploads;
    quotas_config quotas;
    std::filesystem::path state_dir;
    uint64_t journal_segment_bytes = 16 << 20;  // store.journal_segment_bytes: preallocated per segment
    std::filesystem::path plugin_dir;
    std::filesystem::path jobs_dir;
    bool require_idempotency_key = false;
    milliseconds idempotency_ttl{24LL * 3600'000};
    milliseconds tombstone_ttl{24LL * 3600'000};
    milliseconds drain_timeout{30'000};
    milliseconds cancel_grace{5'000};
    milliseconds purge_interval{60'000};
    uint64_t max_cached_jobs = 100'000;
    unsigned max_retry_batch = 1000;  // jobs.max_retry_batch: jobs one POST /v1/jobs:retry may re-run
    milliseconds max_schedule_ahead{365LL * 24 * 3600'000};  // jobs.max_schedule_ahead: runAt at most this far off
    // Lets tests use retention/ttl below the protocol's 24 h minimum.
    bool allow_short_retention = false;
    std::vector<job_type_config> job_types;
};

// Reads `file` and every *.yaml in its jobs_dir. Relative paths in the file are relative
// to the file's own directory.
daemon_config load_config(const std::filesystem::path& file);

// What a reload cannot change (it needs a restart): the listeners and TLS on/off, the
// state, the engine's own settings, auth.mode. Rendered as text so that two configs
// compare in one line. (A reload re-reads the TLS files, the keys and the job types.)
std::string restart_only_settings(const daemon_config& config);

// The principals' shares of the workers (quotas: weight), for the fair queues.
std::shared_ptr<const principal_weights> weights_of(const quotas_config& quotas);

// Refuses (config_error naming auth.allow_unauthenticated) auth.mode `none` on a listen
// address other than loopback, unless auth.allow_unauthenticated says so. Called once the
// command line's --listen is applied.
void check_exposure(const daemon_config& config);
// A job type's name: 1-64 characters of a-z, 0-9, '-' and '_'.
bool is_type_name(std::string_view name);
// 127.0.0.0/8, ::1 and localhost.
bool is_loopback_host(std::string_view host);

// "HOST:PORT" ("[::1]:8080" for IPv6); false when malformed.
bool parse_host_port(std::string_view text, std::string& host, uint16_t& port);

// Plugin settings given as YAML text (or the name of a YAML file), as compact JSON text.
std::string parse_settings_yaml(const std::string& text_or_file);

// "30s", "250ms", "5m", "2h", "7d".
milliseconds parse_duration(std::string_view text);
// "512", "64KiB", "1MiB", "2GiB", "10kB", "1MB".
uint64_t parse_size(std::string_view text);

}  // namespace ticketd
