#include "system/control_signals.hpp"

#include <csignal>
#include <initializer_list>

namespace ticketd {

namespace {

sigset_t control_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
    return set;
}

}  // namespace

void hold_control_signals() {
    const sigset_t set = control_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void release_control_signals() {
    const sigset_t set = control_signals();
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

int pending_stop_signal() {
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    for (int s : {SIGTERM, SIGINT}) {
        if (sigismember(&pending, s) == 1) return s;
    }
    return 0;
}

}  // namespace ticketd
