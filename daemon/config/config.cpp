#include "config/config.hpp"
#include "config/yaml_section.hpp"

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace ticketd {

namespace fs = std::filesystem;

namespace {

fs::path resolve(const fs::path& base_dir, const std::string& p) {
    fs::path path(p);
    return path.is_absolute() ? path : (base_dir / path).lexically_normal();
}

}  // namespace

nlohmann::json yaml_to_json(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined: return nullptr;
        case YAML::NodeType::Sequence: {
            auto out = nlohmann::json::array();
            for (const auto& item : node) out.push_back(yaml_to_json(item));
            return out;
        }
        case YAML::NodeType::Map: {
            auto out = nlohmann::json::object();
            for (const auto& kv : node) out[kv.first.Scalar()] = yaml_to_json(kv.second);
            return out;
        }
        case YAML::NodeType::Scalar: break;
    }
    const std::string& s = node.Scalar();
    if (node.Tag() == "!") return s;  // quoted
    if (s == "true") return true;
    if (s == "false") return false;
    if (s == "null" || s == "~") return nullptr;
    int64_t i = 0;
    if (auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
        ec == std::errc() && p == s.data() + s.size()) {
        return i;
    }
    double d = 0;
    if (auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
        ec == std::errc() && p == s.data() + s.size()) {
        return d;
    }
    return s;
}

namespace {

constexpr milliseconds day{24LL * 3600'000};
constexpr milliseconds one_ms{1};
constexpr milliseconds max_duration{365LL * 24 * 3600'000};

using placeholders = std::vector<std::pair<std::string, std::string>>;

// Settings as the compact JSON text plugins get; nullopt when a string in them is not
// valid UTF-8 (YAML lets such bytes through).
std::optional<std::string> settings_text(const nlohmann::json& settings) {
    try {
        return settings.dump();
    } catch (const nlohmann::json::type_error&) {
        return std::nullopt;
    }
}

// Replaces each placeholder in every string of `j`.
void expand_placeholders(nlohmann::json& j, const placeholders& values) {
    if (j.is_string()) {
        auto& text = j.get_ref<std::string&>();
        for (const auto& [name, value] : values) {
            for (size_t pos = text.find(name); pos != std::string::npos; pos = text.find(name, pos + value.size())) {
                text.replace(pos, name.size(), value);
            }
        }
    } else if (j.is_structured()) {
        for (auto& child : j) expand_placeholders(child, values);
    }
}

job_type_config load_job_type(const fs::path& file, bool allow_short_retention, const placeholders& values) {
    const YAML::Node root = load_yaml(file);
    section top(root, file.string(), "");
    if (!root || root.IsNull()) {
        throw config_error(file.string() + ":1:1: the file is empty; fix: declare at least " +
                           "'type:' and 'plugin:'");
    }
    job_type_config c;
    c.file = file.string();
    auto type = top.get("type");
    if (!type) top.fail(root, "missing key 'type'", "add 'type: <name>' (e.g. type: report)");
    c.type = top.string("type", "");
    if (!is_type_name(c.type)) {
        top.fail(*type, "'type' must be 1-64 characters of a-z, 0-9, '-' or '_', found '" +
                            c.type + "'",
                 "rename the job type");
    }
    auto plugin = top.get("plugin");
    if (!plugin) top.fail(root, "missing key 'plugin'", "add 'plugin: <file>.so'");
    c.plugin = top.string("plugin", "");
    c.plugin_where = file.string() + ":" + std::to_string(plugin->Mark().line + 1) + ":" +
                     std::to_string(plugin->Mark().column + 1);
    c.workers = static_cast<unsigned>(top.integer("workers", c.workers, 1, 1024));
    c.queue_capacity = top.integer("queue_capacity", c.queue_capacity, 1, 10'000'000);
    c.schedule_capacity = top.integer("schedule_capacity", c.schedule_capacity, 0, 100'000'000);
    c.validate_threads = static_cast<unsigned>(top.integer("validate_threads", c.validate_threads, 0, 64));
    c.timeout = top.duration("timeout", c.timeout, one_ms, max_duration);
    load_retry(top, c.retry);
    c.schedules = load_schedules(top);
    c.retention = top.duration("retention", c.retention,
                               allow_short_retention ? one_ms : day, max_duration);
    c.max_input_bytes = top.size("max_input_bytes", c.max_input_bytes, 2, 64ULL << 20);
    if (const auto when = top.get("when_paused")) {
        const std::string v = when->IsScalar() ? when->Scalar() : "";
        if (v != "accept" && v != "refuse") {
            top.fail(*when, "'when_paused' must be accept or refuse, found '" + v + "'",
                     "write accept (submits are queued while paused) or refuse (they get 503)");
        }
        c.refuse_when_paused = v == "refuse";
    }
    if (auto s = top.get("settings")) {
        if (!s->IsMap()) top.fail(*s, "'settings' must be a mapping", "indent the settings under it");
        // Settings may name paths under the daemon's own directories, so one config works
        // wherever the state directory is (e.g. an import's database).
        auto settings = yaml_to_json(*s);
        expand_placeholders(settings, values);
        const auto text = settings_text(settings);
        if (!text) top.fail(*s, "'settings' with text that is not valid UTF-8", "write the settings as UTF-8");
        c.settings = *text;
    }
    top.finish();
    return c;
}

}  // namespace

namespace {
// "<digits><unit>": the number and the unit text; throws when there is no number.
std::pair<uint64_t, std::string_view> number_and_unit(std::string_view text, const char* example) {
    size_t i = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    uint64_t n = 0;
    if (i == 0 || std::from_chars(text.data(), text.data() + i, n).ec != std::errc() || n > (1ULL << 40)) {
        throw config_error(std::string("expected a value such as ") + example + ", found '" + std::string(text) + "'");
    }
    return {n, text.substr(i)};
}
}  // namespace

milliseconds parse_duration(std::string_view text) {
    static const std::map<std::string_view, uint64_t> units = {
        {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
    const auto [n, unit] = number_and_unit(text, "30s");
    auto it = units.find(unit);
    if (it == units.end()) {
        throw config_error("bad duration unit in '" + std::string(text) + "' (expected ms, s, m, h or d)");
    }
    if (n * it->second > static_cast<uint64_t>(max_duration.count())) {
        throw config_error("duration '" + std::string(text) + "' is too long");
    }
    return milliseconds(static_cast<int64_t>(n * it->second));
}

uint64_t parse_size(std::string_view text) {
    static const std::map<std::string_view, uint64_t> units = {
        {"", 1},             {"B", 1},         {"KiB", 1ULL << 10}, {"MiB", 1ULL << 20},
        {"GiB", 1ULL << 30}, {"kB", 1000},     {"MB", 1'000'000},   {"GB", 1'000'000'000}};
    const auto [n, unit] = number_and_unit(text, "1MiB");
    auto it = units.find(unit);
    if (it == units.end()) {
        throw config_error("bad size unit in '" + std::string(text) + "' (expected B, KiB, MiB, GiB, kB, MB or GB)");
    }
    return n * it->second;
}

bool parse_host_port(std::string_view text, std::string& host, uint16_t& port) {
    const auto colon = text.rfind(':');
    uint32_t value = 0;
    if (colon == std::string_view::npos || colon == 0 ||
        std::from_chars(text.data() + colon + 1, text.data() + text.size(), value).ec != std::errc() ||
        value > 65535) {
        return false;
    }
    host = std::string(text.substr(0, colon));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    port = static_cast<uint16_t>(value);
    return true;
}

std::string parse_settings_yaml(const std::string& text_or_file) {
    YAML::Node node;
    std::error_code ec;
    if (fs::is_regular_file(text_or_file, ec)) {
        node = load_yaml(text_or_file);
    } else {
        try {
            node = YAML::Load(text_or_file);
        } catch (const YAML::Exception& e) {
            throw config_error("--settings: invalid YAML at line " + std::to_string(e.mark.line + 1) + ", column " +
                               std::to_string(e.mark.column + 1) + ": " + e.msg +
                               "; fix: pass a YAML mapping, e.g. --settings 'greeting: Hi'");
        }
    }
    if (!node || node.IsNull()) return "{}";
    if (!node.IsMap()) throw config_error("--settings: expected a YAML mapping; fix: e.g. --settings 'greeting: Hi'");
    const auto text = settings_text(yaml_to_json(node));
    if (!text) throw config_error("--settings: text that is not valid UTF-8; fix: pass the settings as UTF-8");
    return *text;
}

bool is_type_name(std::string_view s) {
    return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
           });
}

bool is_loopback_host(std::string_view host) {
    return host == "localhost" || host == "::1" || host.starts_with("127.");
}

void check_exposure(const daemon_config& c) {
    if (c.auth.mode != auth_mode::none || c.auth.allow_unauthenticated || is_loopback_host(c.server.listen_host)) {
        return;
    }
    throw config_error(c.file.string() + ": server.listen is " + c.server.listen_host +
                       ", reachable from other machines, and auth.mode is none: anyone who reaches it could act "
                       "on every job; fix: set auth.mode: api_keys (see docs/security.md), listen on 127.0.0.1 "
                       "behind an authenticating proxy, or set auth.allow_unauthenticated: true to accept this");
}

std::string restart_only_settings(const daemon_config& c) {
    std::ostringstream out;
    const auto& s = c.server;
    out << s.listen_host << ':' << s.listen_port << ' ' << s.public_base_url << ' ' << s.io_threads << ' '
        << s.max_body_bytes << ' ' << s.max_header_bytes << ' ' << s.idle_timeout.count() << ' '
        << s.request_timeout.count() << ' ' << s.max_connections << ' ' << s.max_waiters << ' ' << s.max_wait.count()
        << ' ' << s.max_json_depth << ' ' << s.write_timeout.count() << ' ' << s.min_body_rate << ' '
        << s.max_chunk_header_bytes << ' ' << s.max_body_memory << ' ' << s.max_connections_per_client
        << " | " << c.metrics.enabled << ' ' << c.metrics.listen_host << ':' << c.metrics.listen_port << " | "
        << c.state_dir << ' ' << c.require_idempotency_key << ' ' << c.idempotency_ttl.count() << ' '
        << c.tombstone_ttl.count() << ' ' << c.drain_timeout.count() << ' ' << c.cancel_grace.count() << ' '
        << c.purge_interval.count() << ' ' << c.max_cached_jobs << ' ' << c.max_retry_batch << ' '
        << c.max_schedule_ahead.count() << ' ' << c.uploads.max_bytes
        << ' '
        << c.uploads.ttl.count() << " | " << static_cast<int>(c.auth.mode) << ' ' << c.auth.allow_unauthenticated
        << ' ' << static_cast<int>(c.auth.identity) << " | " << s.tls.enabled() << ' ' << s.tls.client_ca.empty() << ' '
        << s.tls.handshake_timeout.count();
    return out.str();
}

daemon_config load_config(const fs::path& file_arg) {
    const fs::path file = fs::absolute(file_arg).lexically_normal();
    const fs::path dir = file.parent_path();
    const YAML::Node root = load_yaml(file);
    section top(root, file.string(), "");
    daemon_config c;
    c.file = file;

    auto server = top.child("server");
    auto& s = c.server;
    const std::string listen = server.string("listen", "127.0.0.1:8080");
    if (!parse_host_port(listen, s.listen_host, s.listen_port)) {
        server.fail(*server.get("listen"), "'server.listen' must be HOST:PORT, found '" + listen + "'",
                    "write e.g. 127.0.0.1:8080 (port 0 picks a free port)");
    }
    s.public_base_url = server.string("public_base_url", "");
    if (!s.public_base_url.empty()) {
        if (s.public_base_url.rfind("http://", 0) != 0 && s.public_base_url.rfind("https://", 0) != 0) {
            server.fail(*server.get("public_base_url"),
                        "'server.public_base_url' must start with http:// or https://",
                        "write the URL clients use to reach ticketd, e.g. https://jobs.example.com");
        }
        while (!s.public_base_url.empty() && s.public_base_url.back() == '/') s.public_base_url.pop_back();
    }
    s.io_threads = static_cast<unsigned>(server.integer("io_threads", s.io_threads, 1, 256));
    s.max_body_bytes = server.size("max_body_bytes", s.max_body_bytes, 1024, 1ULL << 30);
    s.max_header_bytes = server.size("max_header_bytes", s.max_header_bytes, 1024, 1 << 20);
    s.max_json_depth = static_cast<unsigned>(server.integer("max_json_depth", s.max_json_depth, 2, 1000));
    s.idle_timeout = server.duration("idle_timeout", s.idle_timeout, one_ms, day);
    s.request_timeout = server.duration("request_timeout", s.request_timeout, one_ms, day);
    s.write_timeout = server.duration("write_timeout", s.write_timeout, one_ms, day);
    s.min_body_rate = server.size("min_body_rate", s.min_body_rate, 0, 1ULL << 40);
    s.max_chunk_header_bytes = server.size("max_chunk_header_bytes", s.max_chunk_header_bytes, 256, 1 << 20);
    s.max_body_memory = server.size("max_body_memory", s.max_body_memory, 1 << 20, 1ULL << 40);
    s.max_connections = static_cast<unsigned>(server.integer("max_connections", s.max_connections, 1, 1'000'000));
    s.max_connections_per_client = static_cast<unsigned>(
        server.integer("max_connections_per_client", s.max_connections_per_client, 1, 1'000'000));
    s.max_waiters = static_cast<unsigned>(server.integer("max_waiters", s.max_waiters, 0, 1'000'000));
    s.max_wait = server.duration("max_wait", s.max_wait, milliseconds(0), milliseconds(3600'000));
    auto tls = server.child("tls");
    if (tls.node() && !tls.node().IsNull()) {
        s.tls.certificate = resolve(dir, tls.string("certificate", ""));
        s.tls.private_key = resolve(dir, tls.string("private_key", ""));
        if (!tls.get("certificate") || !tls.get("private_key")) {
            tls.fail(tls.node(), "'server.tls' needs both 'certificate' and 'private_key'",
                     "name the PEM files of the server's certificate (with its chain) and of its key");
        }
        if (tls.get("client_ca")) s.tls.client_ca = resolve(dir, tls.string("client_ca", ""));
        s.tls.handshake_timeout = tls.duration("handshake_timeout", s.tls.handshake_timeout, one_ms, day);
    }
    tls.finish();
    server.finish();

    auto metrics = top.child("metrics");
    c.metrics.enabled = metrics.boolean("enabled", true);
    const std::string metrics_listen = metrics.string("listen", "");
    if (!metrics_listen.empty() &&
        !parse_host_port(metrics_listen, c.metrics.listen_host, c.metrics.listen_port)) {
        metrics.fail(*metrics.get("listen"), "'metrics.listen' must be HOST:PORT, found '" + metrics_listen + "'",
                     "write e.g. 127.0.0.1:9464, or leave it empty to serve /metrics on server.listen");
    }
    metrics.finish();

    c.state_dir = resolve(dir, top.string("state_dir", "/var/lib/ticketd"));
    c.plugin_dir = resolve(dir, top.string("plugin_dir", "/usr/lib/ticketd/plugins"));
    c.jobs_dir = resolve(dir, top.string("jobs_dir", "jobs.d"));
    c.allow_short_retention = top.boolean("allow_short_retention", false);
    const milliseconds min_keep = c.allow_short_retention ? one_ms : day;

    auto idem = top.child("idempotency");
    c.require_idempotency_key = idem.boolean("required", false);
    c.idempotency_ttl = idem.duration("ttl", c.idempotency_ttl, min_keep, max_duration);
    idem.finish();

    auto store = top.child("store");
    c.journal_segment_bytes = store.size("journal_segment_bytes", c.journal_segment_bytes, 64 << 10, 1ULL << 30);
    store.finish();

    auto auth = top.child("auth");
    const std::string mode = auth.string("mode", "none");
    if (mode == "api_keys") c.auth.mode = auth_mode::api_keys;
    else if (mode == "mtls") c.auth.mode = auth_mode::mtls;
    else if (mode != "none") {
        auth.fail(*auth.get("mode"), "'auth.mode' must be none, api_keys or mtls, found '" + mode + "'",
                  "write api_keys to require a key on every request (see docs/security.md), or none");
    }
    if (c.auth.mode == auth_mode::mtls && s.tls.client_ca.empty()) {
        auth.fail(*auth.get("mode"), "'auth.mode: mtls' needs client certificates, but server.tls.client_ca is not set",
                  "set server.tls.certificate, private_key and client_ca (see docs/security.md, TLS)");
    }
    const std::string identity = auth.string("mtls_identity", "common_name");
    if (identity == "uri") c.auth.identity = mtls_identity::uri;
    else if (identity != "common_name") {
        auth.fail(*auth.get("mtls_identity"), "'auth.mtls_identity' must be common_name or uri, found '" + identity + "'",
                  "write common_name (the subject's CN) or uri (the first URI in subjectAltName, e.g. spiffe://...)");
    }
    c.auth.keys_file = resolve(dir, auth.string("keys_file", "keys.yaml"));
    c.auth.allow_unauthenticated = auth.boolean("allow_unauthenticated", false);
    c.auth.max_denied_log_lines =
        static_cast<unsigned>(auth.integer("max_denied_log_lines", c.auth.max_denied_log_lines, 0, 1'000'000));
    auth.finish();

    auto uploads = top.child("uploads");
    c.uploads.max_bytes = uploads.size("max_bytes", c.uploads.max_bytes, 1, 1ULL << 40);
    c.uploads.ttl = uploads.duration("ttl", c.uploads.ttl, c.allow_short_retention ? one_ms : milliseconds(60'000),
                                     max_duration);
    uploads.finish();

    auto quotas = top.child("quotas");
    c.quotas = load_quotas(quotas);
    auto jobs = top.child("jobs");
    c.drain_timeout = jobs.duration("drain_timeout", c.drain_timeout, milliseconds(0), day);
    c.cancel_grace = jobs.duration("cancel_grace", c.cancel_grace, milliseconds(0), day);
    c.tombstone_ttl = jobs.duration("tombstone_ttl", c.tombstone_ttl, min_keep, max_duration);
    c.purge_interval = jobs.duration("purge_interval", c.purge_interval, milliseconds(10), day);
    c.max_cached_jobs = jobs.integer("max_cached_jobs", c.max_cached_jobs, 0, 100'000'000);
    c.max_retry_batch = static_cast<unsigned>(jobs.integer("max_retry_batch", c.max_retry_batch, 1, 100'000));
    c.max_schedule_ahead = jobs.duration("max_schedule_ahead", c.max_schedule_ahead, milliseconds(1'000), max_duration);
    jobs.finish();
    top.finish();

    if (!fs::is_directory(c.jobs_dir)) {
        throw config_error(file.string() + ": jobs_dir '" + c.jobs_dir.string() +
                           "' is not a directory; fix: create it and put one <type>.yaml per job type in it");
    }
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(c.jobs_dir)) {
        const auto ext = entry.path().extension();
        if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        auto jt = load_job_type(f, c.allow_short_retention,
                                {{"${state_dir}", c.state_dir.string()}, {"${config_dir}", dir.string()}});
        for (const auto& other : c.job_types) {
            if (other.type == jt.type) {
                throw config_error(f.string() + ":1:1: job type '" + jt.type + "' is also declared in " +
                                   other.file + "; fix: give each job type one file");
            }
        }
        c.job_types.push_back(std::move(jt));
    }
    if (c.job_types.empty()) {
        throw config_error(c.jobs_dir.string() + ": no job types (*.yaml) found; fix: add a file " +
                           "such as hello.yaml with 'type: hello' and 'plugin: hello.so'");
    }
    return c;
}

}  // namespace ticketd
