// How ticketd's threads present themselves: their names (at most 15 characters are kept,
// so that `top -H`, `perf` and gdb show td-io, td-store-write, td-w-<type>...) and which of
// them are batch work.
#pragma once

#include <pthread.h>
#include <sched.h>

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

}  // namespace ticketd
