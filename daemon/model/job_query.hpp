// A page of a principal's jobs, as GET /v1/jobs asks for it and the store answers it.
#pragma once

#include "model/job.hpp"

#include <optional>
#include <string>
#include <vector>

namespace ticketd {

struct job_query {
    std::optional<std::string> principal;  // nullopt: every principal's (an administrator's list)
    std::vector<job_status> statuses;  // empty: any
    std::string type;                  // empty: any
    std::string idempotency_key;       // empty: any
    std::string error_code;            // the error's code (e.g. report/db-down); empty: any
    std::optional<unix_ms> created_after;
    std::optional<unix_ms> created_before;
    // Keyset pagination, newest first: only jobs accepted before this sequence number.
    std::optional<int64_t> before_seq;
    unsigned limit = 50;
};

}  // namespace ticketd
