#include "system/memory.hpp"

#include <malloc.h>

namespace ticketd {

size_t release_free_memory(size_t threshold) {
    const struct mallinfo2 info = mallinfo2();
    if (info.fordblks > threshold) malloc_trim(0);
    return info.fordblks;
}

}  // namespace ticketd
