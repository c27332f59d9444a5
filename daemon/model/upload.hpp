// An upload: a client's binary input, stored under <state_dir>/uploads/<id>.
#pragma once

#include "system/time.hpp"

#include <cstdint>
#include <string>

namespace ticketd {

struct upload_record {
    std::string id;
    std::string principal;
    std::string content_type;
    uint64_t size = 0;
    std::string sha256;  // lowercase hex
    unix_ms created_at = 0;
    unix_ms expires_at = 0;  // when it is purged unless a job pins it
};

}  // namespace ticketd
