// Job ids: 128 bits from the kernel's CSPRNG, as 32 lowercase hex digits. Never reused,
// no guessable sequence.
#pragma once

#include <string>
#include <string_view>

namespace ticketd {

std::string new_random_id();
bool is_random_id(std::string_view text);

}  // namespace ticketd
