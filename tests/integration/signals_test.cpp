// The control signals from the first moment: SIGHUP, SIGTERM and SIGINT sent in a tight
// loop while ticketd starts never end it by their default action. A SIGHUP that arrives
// during start-up is applied once the daemon runs; a SIGTERM or SIGINT stops it cleanly
// (exit 0, nothing acknowledged lost).
//
// No process can hold a signal before its own first instruction (the dynamic loader runs
// before it), so each storm begins the moment /proc shows the daemon's main thread
// blocking the three: from there on, through every thread start, the store, recovery,
// the listener, the port file and READY=1, nothing may kill it.
#include "support/daemon_test.hpp"

#include <signal.h>

#include <fstream>

using namespace ticketd::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// The signal mask of the process's main thread (SigBlk in /proc/PID/status), 0 once gone.
uint64_t blocked_signals(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("SigBlk:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
    }
    return 0;
}

// True when the daemon's main thread blocks SIGTERM, SIGINT and SIGHUP as ticketd does,
// not as everything is blocked for a moment while a thread is made (jemalloc does that
// for its background thread before main, then unblocks again).
bool holds_control_signals(pid_t pid) {
    const uint64_t mask = blocked_signals(pid);
    const auto bit = [](int s) { return uint64_t{1} << (s - 1); };
    const uint64_t control = bit(SIGTERM) | bit(SIGINT) | bit(SIGHUP);
    return (mask & control) == control && (mask & bit(SIGQUIT)) == 0;
}

// Spawns the daemon and waits, polling without pause, for the moment its main thread
// holds the control signals. Fails if it listens (writes its port file) or exits first:
// then a signal in that window would have ended it.
void launch_until_held(daemon_process& d) {
    d.launch();
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!holds_control_signals(d.pid())) {
        ASSERT_FALSE(fs::exists(d.dir() / "port")) << "ticketd listened before it held SIGTERM/SIGINT/SIGHUP";
        ASSERT_TRUE(d.running()) << d.log();
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "ticketd never held its control signals";
    }
}

// Sends `signals` in turn, with no pause, until `done` holds; returns how many were sent.
size_t storm(pid_t pid, std::initializer_list<int> signals, const std::function<bool()>& done,
             std::chrono::milliseconds timeout = 60s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t sent = 0;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        for (int s : signals) sent += ::kill(pid, s) == 0 ? 1 : 0;
    }
    return sent;
}

class signals : public ::testing::Test {
   protected:
    void TearDown() override {
        if (HasFailure()) std::cerr << "---- ticketd log ----\n" << d.log() << "---------------------\n";
    }
    daemon_process d;
};

}  // namespace

TEST_F(signals, a_sighup_storm_from_the_start_is_applied_after_start_and_never_fatal) {
    launch_until_held(d);
    const auto port_file = d.dir() / "port";
    const size_t during_start = storm(d.pid(), {SIGHUP}, [&] { return fs::exists(port_file) || !d.running(); });
    ASSERT_TRUE(d.running()) << "a SIGHUP during start-up ended ticketd";
    EXPECT_GT(during_start, 0u);
    // And a burst more while it is up: reloads run one at a time, the rest are logged.
    for (int i = 0; i < 1000; ++i) ::kill(d.pid(), SIGHUP);
    d.wait_listening();
    EXPECT_EQ(d.get("/healthz").status, 200u);
    EXPECT_TRUE(eventually([&] { return d.log().find("reload: applied") != std::string::npos; }, 30s));
    const auto job = d.submit("hello");
    ASSERT_EQ(job.status, 202u) << job.body;
    EXPECT_EQ(d.wait_terminal(job.json().value("id", "")).value("status", ""), "succeeded");
    EXPECT_EQ(d.log().find("startup failed"), std::string::npos);
    EXPECT_EQ(d.stop(), 0);
}

TEST_F(signals, a_sigterm_storm_from_the_start_stops_it_cleanly_and_loses_nothing) {
    // An unfinished job in the store, so that start-up has a recovery to do.
    d.start();
    const auto job = d.submit("sleep", {{"delayMs", 60000}});
    ASSERT_EQ(job.status, 202u) << job.body;
    const std::string id = job.json().value("id", "");
    d.kill9();

    launch_until_held(d);
    storm(d.pid(), {SIGTERM, SIGINT}, [&] { return !d.running(); });
    ASSERT_FALSE(d.running()) << "still running after a minute of SIGTERM";
    EXPECT_EQ(d.exit_code(), 0) << "ended by signal " << d.exit_code() - 128;
    EXPECT_NE(d.log().find("during start-up: stopping before serving"), std::string::npos);
    EXPECT_EQ(d.log().find("startup failed"), std::string::npos);

    d.start();
    const auto doc = d.get("/v1/jobs/" + id).json();
    EXPECT_NE(doc.value("status", ""), "failed") << doc.dump();  // recovered, not lost
    ASSERT_EQ(d.post("/v1/jobs/" + id + "/cancel", "").status / 100, 2u);
    EXPECT_EQ(d.wait_terminal(id).value("status", ""), "canceled");
    EXPECT_EQ(d.stop(), 0);
}
