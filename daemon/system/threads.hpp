// How ticketd's threads present themselves: their names (at most 15 characters are kept,
// so that `top -H`, `perf` and gdb show td-io, td-store-write, td-w-<type>...) and which of
// them are batch work.
#pragma once

#include "system/log.hpp"

#include <pthread.h>
#include <sched.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace ticketd {

inline void name_this_thread(const std::string& name) { pthread_setname_np(pthread_self(), name.substr(0, 15).c_str()); }

// Marks the calling thread as batch work (SCHED_BATCH, same nice value): when it wakes it
// does not preempt the thread that is running, so job workers and the store's applier
// never push an io or journal thread off its core in the middle of a request. They still
// get their fair share of the CPU. Needs no privilege; best effort (a failure changes
// nothing but this ordering).
inline void run_this_thread_as_batch() {
    sched_param param{};
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
}

// Runs the body of a thread whose state nothing can vouch for after an exception escapes
// it (the store's, the uploads'): logged with the thread's name, then the process stops at
// once with status 70 (EX_SOFTWARE), so that systemd restarts it and recovery replays the
// journal, instead of std::terminate's unexplained abort. Acknowledged work is durable.
template <class Body>
void run_or_fail_stop(const char* thread, Body&& body) {
    try {
        body();
        return;
    } catch (const std::exception& e) {
        log_error(std::string("fatal: thread ") + thread + ": unexpected exception: " + e.what() + "; stopping");
    } catch (...) {
        log_error(std::string("fatal: thread ") + thread + ": unexpected exception; stopping");
    }
    std::fflush(nullptr);
    std::_Exit(70);
}

}  // namespace ticketd
