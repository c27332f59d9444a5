// The systemd notification protocol, against a fake $NOTIFY_SOCKET: READY=1 once
// listening, STATUS= lines, WATCHDOG=1 at half of WATCHDOG_USEC, RELOADING=1 and READY=1
// on SIGHUP, STOPPING=1 with EXTEND_TIMEOUT_USEC on SIGTERM, and EXTEND_TIMEOUT_USEC
// before a store migration.
#include "support/daemon_test.hpp"
#include "support/old_schemas.hpp"

#include <poll.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <ctime>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {
class notify_socket {
   public:
    explicit notify_socket(const std::filesystem::path& path) : path_(path) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("bind");
    }
    ~notify_socket() { ::close(fd_); }
    // Every datagram that arrives within `timeout`, appended to `seen`; true once `until` holds.
    bool collect(std::vector<std::string>& seen, const std::function<bool()>& until, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!until()) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char buf[4096];
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n > 0) seen.emplace_back(buf, static_cast<size_t>(n));
        }
        return true;
    }

   private:
    std::filesystem::path path_;
    int fd_ = -1;
};

size_t count_with(const std::vector<std::string>& seen, const std::string& needle) {
    return static_cast<size_t>(std::count_if(seen.begin(), seen.end(),
                                             [&](const std::string& m) { return m.find(needle) != std::string::npos; }));
}
}  // namespace

TEST(systemd_notify, ready_status_watchdog_and_stopping) {
    daemon_process d;
    notify_socket sock(d.dir() / "notify.sock");
    d.set_env("NOTIFY_SOCKET", (d.dir() / "notify.sock").string());
    d.set_env("WATCHDOG_USEC", "200000");  // 200 ms: pings every 100 ms
    d.start();
    std::vector<std::string> seen;
    ASSERT_TRUE(sock.collect(seen, [&] { return count_with(seen, "WATCHDOG=1") >= 3; }, 10s)) << seen.size();
    ASSERT_GE(count_with(seen, "READY=1"), 1u);
    EXPECT_EQ(seen.front().rfind("READY=1\nSTATUS=5 job types; 0 queued, 0 running", 0), 0u) << seen.front();
    // READY came after the listener was bound: the daemon answers.
    EXPECT_EQ(d.get("/readyz").status, 200u);

    // SIGHUP: RELOADING=1 with the monotonic time, then READY=1 again.
    const size_t ready_before = count_with(seen, "READY=1");
    d.signal(SIGHUP);
    ASSERT_TRUE(sock.collect(seen, [&] { return count_with(seen, "READY=1") > ready_before; }, 10s));
    const auto reloading = std::find_if(seen.begin(), seen.end(), [](const std::string& m) {
        return m.rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0;
    });
    ASSERT_NE(reloading, seen.end());
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const long long sent = std::stoll(reloading->substr(std::strlen("RELOADING=1\nMONOTONIC_USEC=")));
    EXPECT_GT(sent, 0);
    EXPECT_LE(sent, static_cast<long long>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000);

    std::thread stopper([&] { d.stop(); });
    const bool stopping = sock.collect(seen, [&] { return count_with(seen, "STOPPING=1") >= 1; }, 20s);
    stopper.join();
    ASSERT_TRUE(stopping);
    const auto& last = *std::find_if(seen.begin(), seen.end(),
                                     [](const std::string& m) { return m.find("STOPPING=1") != std::string::npos; });
    EXPECT_NE(last.find("EXTEND_TIMEOUT_USEC="), std::string::npos) << last;
}

// A store of an earlier schema is migrated before the daemon is ready (one transaction,
// ~14 s per million jobs): systemd hears first that the start will take longer, or it
// would kill the migration at its start timeout and start it over, forever.
TEST(systemd_notify, a_store_migration_extends_the_start_timeout_first) {
    daemon_process d;
    write_schema_1_store(d.dir() / "state", R"sql(
INSERT INTO jobs (id, type, principal, status, cancel_requested, attempt, priority, timeout_ms, created_at,
  updated_at, input, labels, version) VALUES ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'hello', 'anonymous', 'queued',
  0, 1, 0, 0, 1790000000000, 1790000000000, '{"name":"v1"}', '{}', 1);
PRAGMA user_version = 1;
)sql");
    notify_socket sock(d.dir() / "notify.sock");
    d.set_env("NOTIFY_SOCKET", (d.dir() / "notify.sock").string());
    d.start();
    std::vector<std::string> seen;
    ASSERT_TRUE(sock.collect(seen, [&] { return count_with(seen, "READY=1") >= 1; }, 20s)) << seen.size();
    EXPECT_EQ(seen.front(), "EXTEND_TIMEOUT_USEC=60000000\nSTATUS=migrating the store (1 jobs)");
    // Migrated: the old job is there. A second start has nothing to migrate.
    EXPECT_EQ(d.wait_terminal("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").value("status", ""), "succeeded");
    EXPECT_EQ(d.stop(), 0);
    seen.clear();
    d.start();
    ASSERT_TRUE(sock.collect(seen, [&] { return count_with(seen, "READY=1") >= 1; }, 20s));
    EXPECT_EQ(count_with(seen, "migrating"), 0u);  // (the last stop's STOPPING=1 extends its own timeout)
}

TEST(systemd_socket_activation, the_daemon_serves_on_the_socket_it_is_given) {
    // A listening socket as systemd would hold it, on a port the test chose.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(fd, 16), 0);
    socklen_t length = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
    const uint16_t port = ntohs(addr.sin_port);

    daemon_process d;
    d.set_activation_socket(fd);
    d.start();
    ::close(fd);  // the daemon holds its own copy
    EXPECT_EQ(d.port(), port);
    EXPECT_EQ(http_request(port, "GET", "/healthz").status, 200u);
    EXPECT_NE(d.log().find("socket activation"), std::string::npos) << d.log();
}

// The watchdog is fed only when every io thread answers: one wedged loop (here the second
// io thread, stopped alone with ptrace while the others run) starves it, so systemd
// restarts the service; once the loop runs again, the pings come back.
TEST(systemd_notify, a_wedged_io_thread_starves_the_watchdog) {
    daemon_process d;
    notify_socket sock(d.dir() / "notify.sock");
    d.set_env("NOTIFY_SOCKET", (d.dir() / "notify.sock").string());
    d.set_env("WATCHDOG_USEC", "200000");
    d.start();
    std::vector<std::string> seen;
    ASSERT_TRUE(sock.collect(seen, [&] { return count_with(seen, "WATCHDOG=1") >= 2; }, 10s));
    // The io thread that is not the main thread (the config runs two).
    pid_t io = 0;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(d.pid()) + "/task")) {
        std::string name;
        std::getline(std::ifstream(task.path() / "comm"), name);
        const pid_t tid = std::stoi(task.path().filename().string());
        if (name == "td-io" && tid != d.pid()) io = tid;
    }
    ASSERT_NE(io, 0);
    if (::ptrace(PTRACE_SEIZE, io, nullptr, nullptr) != 0) {
        GTEST_SKIP() << "ptrace is not allowed here: " << std::strerror(errno);
    }
    ASSERT_EQ(::ptrace(PTRACE_INTERRUPT, io, nullptr, nullptr), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(io, &status, __WALL), io);  // stopped now
    // A ping already on its way may still arrive; after it, none for 2 s (ten intervals).
    sock.collect(seen, [] { return false; }, 300ms);
    const size_t before = count_with(seen, "WATCHDOG=1");
    sock.collect(seen, [] { return false; }, 2s);
    EXPECT_EQ(count_with(seen, "WATCHDOG=1"), before) << "the watchdog was fed while an io thread was wedged";
    ASSERT_EQ(::ptrace(PTRACE_DETACH, io, nullptr, nullptr), 0);
    EXPECT_TRUE(sock.collect(seen, [&] { return count_with(seen, "WATCHDOG=1") >= before + 2; }, 10s));
    EXPECT_EQ(d.get("/healthz").status, 200u);
}
