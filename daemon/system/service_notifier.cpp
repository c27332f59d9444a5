#include "system/service_notifier.hpp"

#include "system/log.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace ticketd {

std::vector<int> take_activation_sockets() {
    std::vector<int> fds;
    const char* pid = std::getenv("LISTEN_PID");
    const char* count = std::getenv("LISTEN_FDS");
    if (pid != nullptr && count != nullptr && std::strtol(pid, nullptr, 10) == ::getpid()) {
        const long n = std::strtol(count, nullptr, 10);
        for (long i = 0; i < n && i < 64; ++i) {
            const int fd = 3 + static_cast<int>(i);
            ::fcntl(fd, F_SETFD, FD_CLOEXEC);
            fds.push_back(fd);
        }
    }
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
    return fds;
}

service_notifier::service_notifier() {
    const char* socket_path = std::getenv("NOTIFY_SOCKET");
    if (socket_path != nullptr && (socket_path[0] == '/' || socket_path[0] == '@') &&
        std::strlen(socket_path) < sizeof(sockaddr_un::sun_path)) {
        address_ = socket_path;
        if (address_[0] == '@') address_[0] = '\0';
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) log_warning("systemd notify: cannot create a socket; notifications are off");
    }
    const char* usec = std::getenv("WATCHDOG_USEC");
    const char* pid = std::getenv("WATCHDOG_PID");
    const bool for_us = pid == nullptr || std::strtol(pid, nullptr, 10) == ::getpid();
    if (usec != nullptr && for_us) {
        const long long value = std::strtoll(usec, nullptr, 10);
        if (value > 0) watchdog_ = std::chrono::microseconds(value / 2);
    }
}

service_notifier::~service_notifier() {
    if (fd_ >= 0) ::close(fd_);
}

bool service_notifier::notify(std::string_view state) const {
    if (fd_ < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, address_.data(), address_.size());
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
    const ssize_t sent = ::sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL,
                                  reinterpret_cast<const sockaddr*>(&addr), length);
    return sent == static_cast<ssize_t>(state.size());
}

}  // namespace ticketd
