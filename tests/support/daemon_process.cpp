#include "support/daemon_process.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace ticketd::test {

namespace fs = std::filesystem;

namespace {
std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
    return s;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

pid_t spawn(const std::vector<std::string>& args, const fs::path& log,
            const std::map<std::string, std::string>& env = {}, int fd3 = -1) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (fd3 >= 0) posix_spawn_file_actions_adddup2(&actions, fd3, 3);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string entry = *e;
        if (!env.contains(entry.substr(0, entry.find('=')))) env_strings.push_back(entry);
    }
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("posix_spawn failed");
    return pid;
}

int wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (std::chrono::steady_clock::now() > deadline) return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}
}  // namespace

std::map<std::string, std::string> daemon_config_text::default_job_types() {
    return {
        {"hello.yaml", "type: hello\nplugin: @PLUGINS@/hello.so\nworkers: 2\nqueue_capacity: 100\n"},
        {"sleep.yaml", "type: sleep\nplugin: @FIXTURES@/sleep.so\nworkers: 2\nqueue_capacity: 100\nretry_backoff: 0s\n"},
        {"fail.yaml", "type: fail\nplugin: @FIXTURES@/fail.so\nworkers: 1\n"},
        {"throw.yaml", "type: throw\nplugin: @FIXTURES@/throw.so\nworkers: 1\n"},
        {"stubborn.yaml", "type: stubborn\nplugin: @FIXTURES@/stubborn.so\nworkers: 1\n"},
    };
}

int64_t unix_ms_of(const std::string& rfc3339) {
    std::tm tm{};
    const char* rest = ::strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == nullptr) return -1;
    const int64_t ms = *rest == '.' ? std::atoi(rest + 1) : 0;
    return static_cast<int64_t>(::timegm(&tm)) * 1000 + ms;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return condition();
}

daemon_process::daemon_process(daemon_config_text config) : config_(std::move(config)) { write_config(); }

daemon_process::~daemon_process() {
    if (pid_ > 0) kill9();
}

void daemon_process::write_config() const {
    fs::create_directories(dir_.path / "jobs.d");
    std::ofstream(dir_.path / "ticketd.yaml") << "server:\n  listen: " << config_.listen << "\n  io_threads: 2\n"
                                         << config_.server << "state_dir: state\njobs_dir: jobs.d\nplugin_dir: "
                                         << TICKETD_PLUGIN_DIR << "\n" << config_.top << "jobs:\n" << config_.jobs;
    for (const auto& [name, text] : config_.job_types) {
        std::ofstream(dir_.path / "jobs.d" / name)
            << replace_all(replace_all(text, "@PLUGINS@", TICKETD_PLUGIN_DIR), "@FIXTURES@", TICKETD_FIXTURE_DIR);
    }
}

void daemon_process::start() {
    launch();
    wait_listening();
}

void daemon_process::launch() {
    const auto port_file = dir_.path / "port";
    fs::remove(port_file);
    std::vector<std::string> args{TICKETD_BINARY, "--config", (dir_.path / "ticketd.yaml").string(), "--port-file",
                                  port_file.string()};
    if (activation_fd_ >= 0) {
        // LISTEN_PID must be the daemon's own pid: set it in a shell that then execs.
        args.insert(args.begin(), {"/bin/sh", "-c", "LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$@\""});
    }
    pid_ = spawn(args, dir_.path / "daemon.log", env_, activation_fd_);
}

void daemon_process::wait_listening() {
    const auto port_file = dir_.path / "port";
    const bool up = eventually([&] { return fs::exists(port_file) || !running(); }, std::chrono::seconds(30));
    if (!up || !fs::exists(port_file)) {
        throw std::runtime_error("ticketd did not start; log:\n" + log());
    }
    std::istringstream ports(read_file(port_file));
    unsigned main_port = 0, metrics_port = 0;
    ports >> main_port >> metrics_port;
    port_ = static_cast<uint16_t>(main_port);
    metrics_port_ = static_cast<uint16_t>(metrics_port);
}

void daemon_process::replace_in_config(const std::string& from, const std::string& to) const {
    const auto file = dir_.path / "ticketd.yaml";
    std::string text = read_file(file);
    const auto at = text.find(from);
    if (at == std::string::npos) throw std::runtime_error("'" + from + "' is not in " + file.string());
    std::ofstream(file) << text.replace(at, from.size(), to);
}

int daemon_process::start_expect_failure(std::string& log_text) {
    const pid_t pid = spawn({TICKETD_BINARY, "--config", (dir_.path / "ticketd.yaml").string()}, dir_.path / "daemon.log");
    const int rc = wait_for_exit(pid, std::chrono::seconds(30));
    log_text = log();
    return rc;
}

int daemon_process::check_config(std::string& out) const {
    return run_ticketd({"--check-config", "--config", (dir_.path / "ticketd.yaml").string()}, out);
}

std::string create_api_key(const daemon_process& d, const std::string& principal,
                           const std::vector<std::string>& scopes, const std::string& expires) {
    std::vector<std::string> args{"keys", "create", "--config", (d.dir() / "ticketd.yaml").string(), "--principal",
                                  principal};
    for (const auto& s : scopes) args.insert(args.end(), {"--scope", s});
    if (!expires.empty()) args.insert(args.end(), {"--expires", expires});
    std::string out;
    EXPECT_EQ(run_ticketd(args, out), 0) << out;
    // The token: tkd_ + 16 + _ + 32 characters.
    const auto at = out.find("tkd_");
    const std::string token = at == std::string::npos || out.size() < at + 53 ? "" : out.substr(at, 53);
    const bool shaped = !token.empty() && std::all_of(token.begin() + 4, token.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
    EXPECT_TRUE(shaped) << out;
    return shaped ? token : "";
}

header_list bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

int run_ticketd(const std::vector<std::string>& args, std::string& out) {
    std::vector<std::string> argv{TICKETD_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv, out, std::chrono::seconds(30));
}

int run_program(const std::vector<std::string>& argv, std::string& out, std::chrono::milliseconds timeout) {
    temp_dir dir{"ticketd-run"};
    const int rc = wait_program(start_program(argv, dir.path / "out"), timeout);
    out = read_file(dir.path / "out");
    return rc;
}

pid_t start_program(const std::vector<std::string>& argv, const std::filesystem::path& log) { return spawn(argv, log); }

int wait_program(pid_t pid, std::chrono::milliseconds timeout) {
    const int rc = wait_for_exit(pid, timeout);
    if (rc == -1) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
    }
    return rc;
}

bool daemon_process::running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        pid_ = -1;
        return false;
    }
    return true;
}

int daemon_process::stop(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    return wait_exit(timeout);
}

int daemon_process::wait_exit(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    const int rc = wait_for_exit(pid_, timeout);
    if (rc != -1) {
        exit_code_ = rc;
        pid_ = -1;
    }
    return rc;
}

void daemon_process::signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
}

void daemon_process::kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    wait_for_exit(pid_, std::chrono::seconds(30));
    pid_ = -1;
}

std::string daemon_process::log() const { return read_file(dir_.path / "daemon.log"); }

size_t daemon_process::log_count(const std::string& needle) const {
    const std::string text = log();
    size_t n = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
    return n;
}

std::string daemon_process::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
}

http_result daemon_process::get(const std::string& target, const header_list& headers) const {
    return http_request(port_, "GET", target, headers);
}

http_result daemon_process::post(const std::string& target, const std::string& body, header_list headers) const {
    bool has_type = false;
    for (const auto& h : headers) has_type |= h.first == "Content-Type";
    if (!has_type) headers.emplace_back("Content-Type", "application/json");
    return http_request(port_, "POST", target, headers, body);
}

http_result daemon_process::upload(const std::string& bytes, const std::string& content_type) const {
    return post("/v1/uploads", bytes, {{"Content-Type", content_type}});
}

http_result daemon_process::submit_with_files(const std::string& type, const nlohmann::json& input,
                                              const nlohmann::json& files) const {
    return post("/v1/jobs", nlohmann::json{{"type", type}, {"input", input}, {"files", files}}.dump());
}

http_result daemon_process::del(const std::string& target, const header_list& headers, const std::string& body) const {
    return http_request(port_, "DELETE", target, headers, body);
}

http_result daemon_process::submit(const std::string& type, const nlohmann::json& input, header_list headers) const {
    // `{}` converts to JSON null: treat it as the empty input object.
    const nlohmann::json body = {{"type", type}, {"input", input.is_null() ? nlohmann::json::object() : input}};
    return post("/v1/jobs", body.dump(), std::move(headers));
}

nlohmann::json daemon_process::wait_terminal(const std::string& id, std::chrono::milliseconds timeout,
                                             const header_list& headers) const {
    nlohmann::json doc;
    const bool done = eventually(
        [&] {
            auto r = get("/v1/jobs/" + id + "?redirect=false", headers);
            if (r.status != 200) return false;
            doc = r.json();
            const auto s = doc.value("status", "");
            return s == "succeeded" || s == "failed" || s == "canceled";
        },
        timeout);
    if (!done) throw std::runtime_error("job " + id + " did not finish; last doc: " + doc.dump());
    return doc;
}

}  // namespace ticketd::test
