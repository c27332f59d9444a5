// Config parsing: units, and errors that name file, line, column and the fix.
#include "config/config.hpp"

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace fs = std::filesystem;
using namespace ticketd;

namespace {
struct temp_config {
    ticketd::test::temp_dir scratch{"ticketd-config"};
    const fs::path& dir = scratch.path;
    temp_config(const std::string& main, const std::map<std::string, std::string>& jobs) {
        fs::create_directories(dir / "jobs.d");
        std::ofstream(dir / "ticketd.yaml") << main;
        for (const auto& [name, text] : jobs) std::ofstream(dir / "jobs.d" / name) << text;
    }
    daemon_config load() const { return load_config(dir / "ticketd.yaml"); }
};

std::string error_of(const temp_config& c) {
    try {
        c.load();
    } catch (const config_error& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST(config, parses_durations_and_sizes) {
    EXPECT_EQ(parse_duration("250ms").count(), 250);
    EXPECT_EQ(parse_duration("30s").count(), 30'000);
    EXPECT_EQ(parse_duration("5m").count(), 300'000);
    EXPECT_EQ(parse_duration("2h").count(), 7'200'000);
    EXPECT_EQ(parse_duration("7d").count(), 604'800'000);
    EXPECT_THROW(parse_duration("30"), config_error);
    EXPECT_THROW(parse_duration("30sec"), config_error);
    EXPECT_THROW(parse_duration("s"), config_error);
    EXPECT_EQ(parse_size("512"), 512u);
    EXPECT_EQ(parse_size("64KiB"), 65536u);
    EXPECT_EQ(parse_size("1MiB"), 1048576u);
    EXPECT_EQ(parse_size("10kB"), 10000u);
    EXPECT_THROW(parse_size("1Mb"), config_error);
}

TEST(config, loads_a_full_config_with_relative_paths) {
    temp_config c("server:\n  listen: 127.0.0.1:9000\n  max_wait: 10s\nstate_dir: ../var\n",
                  {{"a.yaml", "type: a\nplugin: a.so\nworkers: 3\ntimeout: 90s\nsettings:\n  x: 1\n  y: \"2\"\n"}});
    const auto cfg = c.load();
    EXPECT_EQ(cfg.server.listen_port, 9000);
    EXPECT_EQ(cfg.server.max_wait.count(), 10'000);
    EXPECT_EQ(cfg.state_dir, (c.dir / "../var").lexically_normal());
    ASSERT_EQ(cfg.job_types.size(), 1u);
    EXPECT_EQ(cfg.job_types[0].workers, 3u);
    EXPECT_EQ(cfg.job_types[0].timeout.count(), 90'000);
    const auto settings = nlohmann::json::parse(cfg.job_types[0].settings);
    EXPECT_EQ(settings["x"], 1);
    EXPECT_EQ(settings["y"], "2");  // quoted stays a string
}

TEST(config, unknown_key_names_file_line_column_and_fix) {
    temp_config c("server:\n  listen: 127.0.0.1:9000\n  lisen_backlog: 5\n", {{"a.yaml", "type: a\nplugin: a.so\n"}});
    const auto e = error_of(c);
    EXPECT_NE(e.find("ticketd.yaml:3:3: unknown key 'server.lisen_backlog'"), std::string::npos) << e;
    EXPECT_NE(e.find("fix:"), std::string::npos) << e;
}

TEST(config, bad_duration_unit_in_a_job_type_is_located) {
    temp_config c("", {{"a.yaml", "type: a\nplugin: a.so\ntimeout: 10 minutes\n"}});
    const auto e = error_of(c);
    EXPECT_NE(e.find("a.yaml:3:10:"), std::string::npos) << e;
    EXPECT_NE(e.find("timeout"), std::string::npos) << e;
    EXPECT_NE(e.find("ms, s, m, h or d"), std::string::npos) << e;
}

TEST(config, bad_type_and_missing_plugin_key) {
    temp_config bad_type("", {{"a.yaml", "type: a\nplugin: a.so\nworkers: many\n"}});
    EXPECT_NE(error_of(bad_type).find("a.yaml:3:10: 'workers' must be a whole number"), std::string::npos)
        << error_of(bad_type);
    temp_config missing("", {{"a.yaml", "type: a\nworkers: 2\n"}});
    EXPECT_NE(error_of(missing).find("missing key 'plugin'"), std::string::npos) << error_of(missing);
}

TEST(config, retention_below_a_day_needs_the_testing_switch) {
    temp_config strict("", {{"a.yaml", "type: a\nplugin: a.so\nretention: 1h\n"}});
    EXPECT_NE(error_of(strict).find("retention"), std::string::npos);
    temp_config relaxed("allow_short_retention: true\n", {{"a.yaml", "type: a\nplugin: a.so\nretention: 1h\n"}});
    EXPECT_EQ(relaxed.load().job_types[0].retention.count(), 3'600'000);
}

TEST(config, duplicate_job_type_and_empty_jobs_dir) {
    temp_config dup("", {{"a.yaml", "type: a\nplugin: a.so\n"}, {"b.yaml", "type: a\nplugin: b.so\n"}});
    EXPECT_NE(error_of(dup).find("job type 'a' is also declared"), std::string::npos) << error_of(dup);
    temp_config none("", {});
    EXPECT_NE(error_of(none).find("no job types"), std::string::npos) << error_of(none);
}

TEST(config, invalid_yaml_is_located) {
    temp_config c("server:\n  listen: [oops\n", {{"a.yaml", "type: a\nplugin: a.so\n"}});
    EXPECT_NE(error_of(c).find("invalid YAML"), std::string::npos) << error_of(c);
}

TEST(config, settings_that_are_not_utf8_are_refused_with_their_place) {
    // Found by fuzzing: YAML lets such bytes through, and rendering them for the plugin threw.
    temp_config c("", {{"a.yaml", "type: a\nplugin: a.so\nsettings:\n  db: \"x\xC8y\"\n"}});
    const auto error = error_of(c);
    EXPECT_NE(error.find("a.yaml:4:"), std::string::npos) << error;
    EXPECT_NE(error.find("not valid UTF-8"), std::string::npos) << error;
    EXPECT_THROW(parse_settings_yaml("db: \"x\xC8y\""), config_error);
}

TEST(config, settings_expand_state_dir_and_config_dir) {
    temp_config c("state_dir: /srv/td\n",
                  {{"a.yaml", "type: a\nplugin: a.so\nsettings:\n  db: \"${state_dir}/w.db\"\n"
                              "  nested: [\"${config_dir}/x\", 3, \"${state_dir}${state_dir}\"]\n  other: \"$state_dir\"\n"}});
    const auto s = nlohmann::json::parse(c.load().job_types[0].settings);
    EXPECT_EQ(s["db"], "/srv/td/w.db");
    EXPECT_EQ(s["nested"][0], (c.dir / "x").string());
    EXPECT_EQ(s["nested"][1], 3);
    EXPECT_EQ(s["nested"][2], "/srv/td/srv/td");
    EXPECT_EQ(s["other"], "$state_dir");  // only the ${...} form expands
}

TEST(config, uploads_section) {
    temp_config c("uploads:\n  max_bytes: 2GiB\n  ttl: 6h\n", {{"a.yaml", "type: a\nplugin: a.so\n"}});
    const auto cfg = c.load();
    EXPECT_EQ(cfg.uploads.max_bytes, 2ULL << 30);
    EXPECT_EQ(cfg.uploads.ttl.count(), 6 * 3600'000);
    temp_config short_ttl("uploads:\n  ttl: 1s\n", {{"a.yaml", "type: a\nplugin: a.so\n"}});
    EXPECT_NE(error_of(short_ttl).find("ticketd.yaml:2:"), std::string::npos) << error_of(short_ttl);
}

TEST(config, auth_settings_are_read_strictly) {
    const std::map<std::string, std::string> jobs = {{"a.yaml", "type: a\nplugin: a.so\n"}};
    temp_config defaults("", jobs);
    const auto d = defaults.load();
    EXPECT_EQ(d.auth.mode, auth_mode::none);
    EXPECT_EQ(d.auth.keys_file, defaults.dir / "keys.yaml");
    EXPECT_EQ(d.auth.max_denied_log_lines, 20u);
    temp_config keyed("auth:\n  mode: api_keys\n  keys_file: /etc/k.yaml\n  max_denied_log_lines: 5\n", jobs);
    const auto k = keyed.load();
    EXPECT_EQ(k.auth.mode, auth_mode::api_keys);
    EXPECT_EQ(k.auth.keys_file, "/etc/k.yaml");
    EXPECT_EQ(k.auth.max_denied_log_lines, 5u);
    const auto bad = error_of(temp_config("auth:\n  mode: password\n", jobs));
    EXPECT_NE(bad.find("ticketd.yaml:2:9: 'auth.mode' must be none, api_keys or mtls"), std::string::npos) << bad;
    // Exposure: none on a public address is refused, unless allowed; loopback is fine.
    auto exposed = d;
    exposed.server.listen_host = "0.0.0.0";
    EXPECT_THROW(check_exposure(exposed), config_error);
    exposed.auth.allow_unauthenticated = true;
    EXPECT_NO_THROW(check_exposure(exposed));
    exposed.server.listen_host = "::1";
    exposed.auth.allow_unauthenticated = false;
    EXPECT_NO_THROW(check_exposure(exposed));
}

TEST(config, tls_settings_are_read_strictly) {
    const std::map<std::string, std::string> jobs = {{"a.yaml", "type: a\nplugin: a.so\n"}};
    temp_config plain("", jobs);
    EXPECT_FALSE(plain.load().server.tls.enabled());
    temp_config tls("server:\n  tls:\n    certificate: tls/cert.pem\n    private_key: /k.pem\n    client_ca: ca.pem\n"
                    "    handshake_timeout: 3s\nauth:\n  mode: mtls\n  mtls_identity: uri\n",
                    jobs);
    const auto t = tls.load();
    EXPECT_TRUE(t.server.tls.enabled());
    EXPECT_EQ(t.server.tls.certificate, tls.dir / "tls/cert.pem") << "relative to the config's directory";
    EXPECT_EQ(t.server.tls.private_key, "/k.pem");
    EXPECT_EQ(t.server.tls.client_ca, tls.dir / "ca.pem");
    EXPECT_EQ(t.server.tls.handshake_timeout, std::chrono::seconds(3));
    EXPECT_EQ(t.auth.mode, auth_mode::mtls);
    EXPECT_EQ(t.auth.identity, mtls_identity::uri);
    const auto half = error_of(temp_config("server:\n  tls:\n    certificate: c.pem\n", jobs));
    EXPECT_NE(half.find("'server.tls' needs both 'certificate' and 'private_key'"), std::string::npos) << half;
    const auto no_ca = error_of(temp_config(
        "server:\n  tls:\n    certificate: c.pem\n    private_key: k.pem\nauth:\n  mode: mtls\n", jobs));
    EXPECT_NE(no_ca.find("'auth.mode: mtls' needs client certificates"), std::string::npos) << no_ca;
    const auto identity = error_of(temp_config("auth:\n  mtls_identity: dn\n", jobs));
    EXPECT_NE(identity.find("'auth.mtls_identity' must be common_name or uri"), std::string::npos) << identity;
    const auto unknown = error_of(temp_config("server:\n  tls:\n    certificate: c\n    private_key: k\n    ciphers: x\n", jobs));
    EXPECT_NE(unknown.find("unknown key 'server.tls.ciphers'"), std::string::npos) << unknown;
}

TEST(config, quotas_have_defaults_and_per_principal_overrides) {
    const std::map<std::string, std::string> jobs = {{"a.yaml", "type: a\nplugin: a.so\n"}};
    const auto none = temp_config("", jobs).load().quotas;
    EXPECT_EQ(none.of("anyone").max_live_jobs, 0u) << "no limit unless configured";
    EXPECT_EQ(none.of("anyone").submit_rate, 0);
    EXPECT_EQ(none.of("anyone").max_priority, 1000);
    EXPECT_EQ(none.of("anyone").weight, 1u);
    const auto q = temp_config("quotas:\n  default:\n    max_live_jobs: 100\n    submit_rate: 600/m\n    max_priority: 0\n"
                               "  principals:\n    billing:\n      weight: 4\n      submit_rate: 50\n"
                               "      max_upload_bytes: 1GiB\n      max_priority: -10\n",
                               jobs)
                       .load()
                       .quotas;
    EXPECT_EQ(q.of("payroll").max_live_jobs, 100u);
    EXPECT_DOUBLE_EQ(q.of("payroll").submit_rate, 10.0);
    EXPECT_EQ(q.of("payroll").max_priority, 0);
    const auto& billing = q.of("billing");
    EXPECT_EQ(billing.max_live_jobs, 100u) << "what is not overridden comes from default";
    EXPECT_EQ(billing.weight, 4u);
    EXPECT_DOUBLE_EQ(billing.submit_rate, 50.0);
    EXPECT_EQ(billing.max_upload_bytes, 1ULL << 30);
    EXPECT_EQ(billing.max_priority, -10);
    for (const auto& [text, expected] : std::vector<std::pair<std::string, std::string>>{
             {"quotas:\n  default:\n    submit_rate: fast\n", "'submit_rate' must be a number of submits per s, m or h"},
             {"quotas:\n  default:\n    submit_rate: 5/d\n", "'submit_rate' must be"},
             {"quotas:\n  default:\n    max_priority: 1001\n", "'max_priority' must be a whole number from -1000 to 1000"},
             {"quotas:\n  default:\n    weight: 0\n", "quotas.default.weight"},
             {"quotas:\n  principals: [billing]\n", "'quotas.principals' must map principal names"},
             {"quotas:\n  principals:\n    billing:\n      max_jobs: 3\n", "unknown key 'quotas.principals.billing.max_jobs'"},
         }) {
        const auto error = error_of(temp_config(text, jobs));
        EXPECT_NE(error.find(expected), std::string::npos) << text << "\n" << error;
    }
}

TEST(config, retry_section_and_its_shorthand) {
    // The shorthand of older configs keeps its meaning: doubling from retry_backoff, crashes retried.
    temp_config old("", {{"a.yaml", "type: a\nplugin: a.so\nmax_attempts: 4\nretry_backoff: 2s\n"}});
    const auto o = old.load().job_types.at(0).retry;
    EXPECT_EQ(o.max_attempts, 4u);
    EXPECT_EQ(o.initial_ms, 2'000);
    EXPECT_EQ(o.multiplier, 2.0);
    EXPECT_EQ(o.max_delay_ms, 3'600'000);
    EXPECT_TRUE(o.on_interrupted);
    EXPECT_FALSE(o.on_timeout);
    temp_config none("", {{"a.yaml", "type: a\nplugin: a.so\n"}});
    EXPECT_EQ(none.load().job_types.at(0).retry.max_attempts, 3u);

    temp_config full("", {{"a.yaml", "type: a\nplugin: a.so\nretry:\n  max_attempts: 6\n  history: 4\n"
                                     "  backoff: {initial: 250ms, multiplier: 1.5, max: 1m, jitter: 0.2}\n"
                                     "  on: [timeout, db-down]\n"}});
    const auto f = full.load().job_types.at(0).retry;
    EXPECT_EQ(f.max_attempts, 6u);
    EXPECT_EQ(f.history, 4u);
    EXPECT_EQ(f.initial_ms, 250);
    EXPECT_EQ(f.multiplier, 1.5);
    EXPECT_EQ(f.max_delay_ms, 60'000);
    EXPECT_EQ(f.jitter, 0.2);
    EXPECT_TRUE(f.on_timeout);
    EXPECT_FALSE(f.on_interrupted) << "`on` replaces the default list";
    EXPECT_EQ(f.on_codes, std::vector<std::string>{"db-down"});

    temp_config both("", {{"a.yaml", "type: a\nplugin: a.so\nmax_attempts: 2\nretry:\n  max_attempts: 3\n"}});
    EXPECT_NE(error_of(both).find("a.yaml:3:15: 'max_attempts' and 'retry_backoff' are shorthand for 'retry:'"),
              std::string::npos)
        << error_of(both);
    temp_config jitter("", {{"a.yaml", "type: a\nplugin: a.so\nretry:\n  backoff:\n    jitter: 2\n"}});
    EXPECT_NE(error_of(jitter).find("a.yaml:5:13: 'retry.backoff.jitter' must be a number between 0 and 1"),
              std::string::npos)
        << error_of(jitter);
    temp_config on("", {{"a.yaml", "type: a\nplugin: a.so\nretry:\n  on: [Timeout!]\n"}});
    EXPECT_NE(error_of(on).find("a.yaml:4:8: 'retry.on' lists 'Timeout!'"), std::string::npos) << error_of(on);
    temp_config typo("", {{"a.yaml", "type: a\nplugin: a.so\nretry:\n  max_atempts: 3\n"}});
    EXPECT_NE(error_of(typo).find("unknown key 'retry.max_atempts'"), std::string::npos) << error_of(typo);
}
