// The body of POST /v1/jobs, checked member by member into a submit_request, and the
// fingerprint that tells two requests with one Idempotency-Key apart.
#pragma once

#include "model/submit.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ticketd {

struct submit_body {
    submit_request request;  // its principal, key, fingerprint and run_at are left to the caller
    // When to run it: `runAt` (ms since the epoch) or `delaySeconds` (ms from now), if given.
    std::optional<unix_ms> run_at;
    std::optional<int64_t> delay_ms;
    nlohmann::json json;     // the body as parsed (for the fingerprint)
    // Not empty: the body is not valid; answer 400 invalid-request with these.
    std::vector<validation_error> errors;
    std::string detail;
};

// JSON nested deeper than `max_json_depth` is refused while it is parsed.
submit_body parse_submit_body(std::string_view body, unsigned max_json_depth);

// SHA-256 over the job type, the query (without wait, sorted) and the canonical body
// (sorted keys, no whitespace): the same request sent again has the same fingerprint.
std::string submit_fingerprint(const submit_body& body,
                               std::vector<std::pair<std::string, std::string>> query);

}  // namespace ticketd
