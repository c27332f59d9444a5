// Random ids (request ids, upload ids): 128 bits from the kernel's CSPRNG, as 32 lowercase
// hex digits. Job ids are made from these bytes too (store/job_ids.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ticketd {

std::string new_random_id();
// `n` bytes from the kernel's CSPRNG (through a per-thread pool; each byte handed out once).
void random_bytes(uint8_t* out, size_t n);
bool is_random_id(std::string_view text);
// Uniform in [0, 1) (53 random bits), e.g. for a retry's jitter.
double random_fraction();

}  // namespace ticketd
