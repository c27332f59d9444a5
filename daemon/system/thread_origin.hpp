// Where a thread's work came from: the event loop (an io thread's io_context, as an opaque
// pointer) that an answer to it should run on. Set by each io thread for itself; a
// task_pool task runs with its poster's, so that work handed to a pool is still answered
// where its connection lives. Null elsewhere.
#pragma once

namespace ticketd {

inline thread_local void* this_thread_origin = nullptr;

}  // namespace ticketd
