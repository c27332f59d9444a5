// Giving freed heap memory back to the kernel. glibc keeps what a burst freed (a drained
// backlog of a million jobs, a purge) in its arenas, so RSS would stay at the peak.
#pragma once

#include <cstddef>

namespace ticketd {

// When more than `threshold` bytes of the heap are free, returns them to the kernel
// (malloc_trim). Returns the free bytes seen. Cheap when there is little to give back.
size_t release_free_memory(size_t threshold);

}  // namespace ticketd
