// Names the calling thread (at most 15 characters are kept), so that `top -H`, `perf`
// and gdb show what each of ticketd's threads is: td-io, td-store-write, td-w-<type>...
#pragma once

#include <pthread.h>

#include <string>

namespace ticketd {

inline void name_this_thread(const std::string& name) { pthread_setname_np(pthread_self(), name.substr(0, 15).c_str()); }

}  // namespace ticketd
