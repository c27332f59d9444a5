// Runs the real ticketd binary for integration tests: a temporary state directory and
// config, 127.0.0.1 port 0 (the daemon writes the bound port to a file), and helpers to
// speak HTTP to it, stop it (SIGTERM), kill it (SIGKILL) and start it again on the same
// state. Waits are on conditions with deadlines, never fixed sleeps.
#pragma once

#include "support/http_client.hpp"
#include "support/temp_dir.hpp"

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

namespace ticketd::test {

struct daemon_config_text {
    std::string listen = "127.0.0.1:0";  // server.listen
    std::string server;  // extra YAML lines under `server:` (2-space indented)
    std::string top;     // extra top-level YAML (idempotency:, allow_short_retention: ...)
    std::string jobs = "  cancel_grace: 1s\n  drain_timeout: 5s\n";  // lines under `jobs:`
    // file name -> YAML; "@PLUGINS@" and "@FIXTURES@" expand to the plugin directories.
    std::map<std::string, std::string> job_types = default_job_types();

    static std::map<std::string, std::string> default_job_types();
};

class daemon_process {
   public:
    explicit daemon_process(daemon_config_text config = {});
    ~daemon_process();
    daemon_process(const daemon_process&) = delete;
    daemon_process& operator=(const daemon_process&) = delete;

    // Starts and waits until it listens (throws with the log on failure).
    void start();
    // The two halves of start(): spawn the process, then wait until it listens.
    void launch();
    void wait_listening();
    pid_t pid() const { return pid_; }
    // Waits for the process to end; its exit code (128 + signal when a signal ended it),
    // -1 on timeout.
    int wait_exit(std::chrono::milliseconds timeout);
    // SIGTERM; waits for exit and returns the exit status (-1 on timeout).
    int stop(std::chrono::milliseconds timeout = std::chrono::seconds(60));
    void kill9();
    // Sends a signal (e.g. SIGHUP) to the running daemon.
    void signal(int sig) const;
    // False once the process has ended (it is reaped then: exit_code() says how it ended).
    bool running();
    // How the last process ended: its exit code, or 128 + the signal that ended it.
    int exit_code() const { return exit_code_; }
    // Runs `ticketd --check-config` on this config; returns exit code, output in `out`.
    int check_config(std::string& out) const;
    // Starts the daemon expecting it to fail; returns its exit code and log.
    int start_expect_failure(std::string& log);

    // Hands the daemon this listening socket as systemd socket activation does (fd 3,
    // LISTEN_FDS=1, LISTEN_PID = the daemon's pid), before start().
    void set_activation_socket(int fd) { activation_fd_ = fd; }
    // Replaces `from` (which must be there) with `to` in the daemon's ticketd.yaml, for
    // the next start or reload.
    void replace_in_config(const std::string& from, const std::string& to) const;
    // Sets an environment variable for the daemon (before start()).
    void set_env(const std::string& name, const std::string& value) { env_[name] = value; }
    uint16_t port() const { return port_; }
    // The separate metrics listener's port (metrics.listen), 0 when there is none.
    uint16_t metrics_port() const { return metrics_port_; }
    const std::filesystem::path& dir() const { return dir_.path; }
    std::string log() const;
    // How many times `needle` occurs in the log.
    size_t log_count(const std::string& needle) const;
    std::string url(const std::string& path) const;

    http_result get(const std::string& target, const header_list& headers = {}) const;
    http_result post(const std::string& target, const std::string& body, header_list headers = {}) const;
    http_result del(const std::string& target, const header_list& headers = {}, const std::string& body = {}) const;
    // POST /v1/jobs with {"type": type, "input": input}.
    http_result submit(const std::string& type, const nlohmann::json& input = nlohmann::json::object(),
                       header_list headers = {}) const;
    // POST /v1/uploads with these bytes.
    http_result upload(const std::string& bytes, const std::string& content_type = "application/octet-stream") const;
    // POST /v1/jobs with {"type", "input", "files"} (files: name -> upload id).
    http_result submit_with_files(const std::string& type, const nlohmann::json& input,
                                  const nlohmann::json& files) const;
    // Polls GET /v1/jobs/{id}?redirect=false until the status is terminal.
    nlohmann::json wait_terminal(const std::string& id, std::chrono::milliseconds timeout = std::chrono::seconds(30),
                                 const header_list& headers = {}) const;

   private:
    void write_config() const;

    daemon_config_text config_;
    temp_dir dir_{"ticketd-test"};  // removed after the destructor has killed the daemon
    pid_t pid_ = -1;
    int exit_code_ = -1;
    uint16_t port_ = 0;
    uint16_t metrics_port_ = 0;
    std::map<std::string, std::string> env_;
    int activation_fd_ = -1;
};

// `ticketd keys create` for this daemon's config (auth.keys_file); the token it printed,
// "" (and a test failure) when it did not print one.
std::string create_api_key(const daemon_process& d, const std::string& principal,
                           const std::vector<std::string>& scopes, const std::string& expires = "");
// Authorization: Bearer <token>
header_list bearer(const std::string& token);

// Milliseconds since the epoch of a document's RFC 3339 time ("2026-12-07T17:02:18.123Z"),
// -1 when it is not one.
int64_t unix_ms_of(const std::string& rfc3339);

// Polls `condition` every 5 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace ticketd::test

namespace ticketd::test {
// Runs the ticketd binary with `args` (no daemon); returns its exit code, output in `out`.
int run_ticketd(const std::vector<std::string>& args, std::string& out);
// Runs a program (a path, or a name looked up in PATH) to its end: its exit code (-1 when
// it outlived `timeout` and was killed), its stdout and stderr in `out`.
int run_program(const std::vector<std::string>& argv, std::string& out,
                std::chrono::milliseconds timeout = std::chrono::seconds(60));
// Starts a program in the background, stdout and stderr to `log`; wait_program reaps it
// (and kills it past `timeout`, returning -1).
pid_t start_program(const std::vector<std::string>& argv, const std::filesystem::path& log);
int wait_program(pid_t pid, std::chrono::milliseconds timeout);
}  // namespace ticketd::test
