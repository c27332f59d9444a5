// How the job service's and the uploads' outcomes are answered when they are not a
// success: one table from each outcome to its status, problem code, detail and
// Retry-After, instead of a switch in each route.
#pragma once

#include "api/api_call.hpp"
#include "model/outcomes.hpp"
#include "model/submit.hpp"

namespace ticketd {

// Answers `out` as a problem and returns true, or returns false for a success (accepted,
// replayed) that the route answers itself.
bool answer_problem(const api_call& c, const submit_outcome& out);
bool answer_problem(const api_call& c, const cancel_outcome& out);
bool answer_problem(const api_call& c, remove_status status);
bool answer_problem(const api_call& c, const rerun_outcome& out);
// The problem code a re-run's outcome is answered with ("" when it was requeued).
std::string_view rerun_problem_code(const rerun_outcome& out);
bool answer_problem(const api_call& c, upload_store::remove_status status);

// The problem document's "errors" member: one {pointer, detail} per error.
nlohmann::json errors_json(const std::vector<validation_error>& errors);

}  // namespace ticketd
