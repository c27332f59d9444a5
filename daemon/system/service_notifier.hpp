// The systemd notification protocol (sd_notify(3)) without libsystemd: datagrams of
// "KEY=VALUE" lines to $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace).
// Inactive when the variable is unset (not run by systemd, or not Type=notify).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ticketd {

// Sockets passed by systemd socket activation (sd_listen_fds(3): LISTEN_PID, LISTEN_FDS,
// starting at fd 3). The variables are removed so child processes do not see them.
std::vector<int> take_activation_sockets();

class service_notifier {
   public:
    service_notifier();  // reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID
    ~service_notifier();
    service_notifier(const service_notifier&) = delete;
    service_notifier& operator=(const service_notifier&) = delete;

    bool active() const { return fd_ >= 0; }
    // Sends one notification (several lines allowed); false if it could not be sent.
    bool notify(std::string_view state) const;
    // How often to send WATCHDOG=1 (half of WATCHDOG_USEC), when systemd asked for it.
    std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

   private:
    int fd_ = -1;
    std::string address_;  // sun_path bytes ('\0' first for the abstract namespace)
    std::optional<std::chrono::microseconds> watchdog_;
};

}  // namespace ticketd
