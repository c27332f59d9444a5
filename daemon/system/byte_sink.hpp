// Where a stream of bytes goes as it arrives: a request body that is never held whole in
// memory (an upload) is written through one, chunk by chunk, in order.
#pragma once

#include <cstddef>

namespace ticketd {

class body_sink {
   public:
    virtual ~body_sink() = default;
    // False when the bytes cannot be stored: the request is answered with a 500, or a 507
    // when out_of_space() says the disk is full.
    virtual bool write(const char* data, size_t size) = 0;
    virtual bool out_of_space() const { return false; }
};

}  // namespace ticketd
