// The filter of POST /v1/jobs:retry (a JSON object a client sent): which failed or
// canceled jobs to run again, as the query that lists them.
#pragma once

#include "model/caller.hpp"
#include "model/job_query.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace ticketd {

// A member's problem, for the 400's errors[] (detail "forbidden": `principal` names
// another principal and the caller is no administrator: 403).
struct filter_error {
    std::string pointer;
    std::string detail;
};

// Fills `q` from `body` (status failed by default, the caller's own jobs unless an
// administrator names a principal or none, at most `max_limit` jobs, 100 by default);
// the first problem instead, if any.
std::optional<filter_error> read_retry_filter(const nlohmann::json& body, const caller& who, unsigned max_limit,
                                              job_query& q);

}  // namespace ticketd
