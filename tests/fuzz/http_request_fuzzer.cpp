// The whole HTTP request path in-process: the daemon (run_daemon, as main() runs it) on
// 127.0.0.1 with a temporary state directory and the hello job type; each input is sent
// as the raw bytes of one connection, which is then half-closed. Every byte goes through
// Beast's parser, ticketd's framing checks, the router and the API into the real engine
// and store. A crash anywhere in the daemon's threads is a crash of this process; an
// answer that never ends (the connection still open long after its bytes ended) is
// reported as a wedge.
#include "app/daemon_app.hpp"
#include "fuzz_support.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>

using namespace ticketd;

namespace {
uint16_t port = 0;

// A refused connect is retried for a while: at hundreds of connections a second the
// machine's ephemeral ports can run short for a moment (EADDRNOTAVAIL), which says
// nothing about the daemon; a daemon that stays unreachable is a finding.
int connect_to_daemon() {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = -1;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) break;
        const int error = errno;
        if (fd >= 0) ::close(fd);
        if (std::chrono::steady_clock::now() > deadline) {
            fuzz::violated(std::string("cannot connect to the daemon for 30 s: ") + std::strerror(error));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const timeval timeout{20, 0};  // far past the harness's max_wait and timeouts
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    return fd;
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const auto dir = fuzz::scratch_dir("http");
    std::filesystem::create_directories(dir / "jobs.d");
    fuzz::write_file(dir / "ticketd.yaml",
                     "server:\n  listen: 127.0.0.1:0\n  io_threads: 2\n  max_wait: 1s\n  request_timeout: 5s\n"
                     "  idle_timeout: 5s\n  max_body_bytes: 64KiB\nuploads:\n  max_bytes: 64KiB\n"
                     "state_dir: state\njobs_dir: jobs.d\nplugin_dir: " TICKETD_FUZZ_PLUGIN_DIR "\n"
                     "jobs:\n  drain_timeout: 1s\n  cancel_grace: 100ms\n");
    fuzz::write_file(dir / "jobs.d" / "hello.yaml",
                     "type: hello\nplugin: hello.so\nworkers: 2\nqueue_capacity: 100\ntimeout: 1s\n"
                     "max_input_bytes: 4KiB\nsettings:\n  greeting: Hello\n");
    const auto port_file = dir / "port";
    daemon_options options;
    options.config_file = dir / "ticketd.yaml";
    options.port_file = port_file;
    std::thread([options] {
        const int rc = run_daemon(options);
        std::fprintf(stderr, "the daemon stopped (exit code %d)\n", rc);
        std::abort();
    }).detach();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!std::filesystem::exists(port_file)) {
        if (std::chrono::steady_clock::now() > deadline) fuzz::violated("the daemon did not start");
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::ifstream(port_file) >> port;
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const int fd = connect_to_daemon();
    for (size_t sent = 0; sent < size;) {
        const ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
        if (n <= 0) break;  // the daemon closed first (an error answer): fine
        sent += static_cast<size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);
    char buffer[16384];
    for (;;) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n > 0) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            fuzz::violated("the connection was still open 20 s after its request ended");
        }
        break;
    }
    ::close(fd);
    return 0;
}
