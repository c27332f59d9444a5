// Job records for unit tests: the one place that builds them.
#pragma once

#include "model/job.hpp"

#include <memory>
#include <string>

namespace ticketd::test {

// A job as it is accepted: queued, with an input.
inline job_record queued_job(const std::string& id, const std::string& type = "report") {
    job_record r;
    r.id = id;
    r.type = type;
    r.principal = "team-a";
    r.created_at = r.updated_at = 1790000000000;
    r.input = R"({"rows":3})";
    return r;
}

// The same job succeeded, with a small result kept in the store.
inline job_record finished(job_record r) {
    r.status = job_status::succeeded;
    r.started_at = r.created_at + 1;
    r.finished_at = r.updated_at = r.created_at + 2;
    r.expires_at = r.created_at + 86400000;
    r.result_type = "application/json";
    r.result_size = 8;
    r.result_inline = true;
    r.input = "{}";  // a finished job's input is dropped from memory
    r.version = 3;
    return r;
}

// A record with every field set (none at its default), for round trips.
inline job_record full_record() {
    job_record r;
    r.id = "0123456789abcdef0123456789abcdef";
    r.type = "report";
    r.principal = "team-a";
    r.idempotency_key = "k-1";
    r.status = job_status::failed;
    r.cancel_requested = true;
    r.attempt = 3;
    r.first_attempt = 2;
    r.priority = -7;
    r.timeout_ms = 60000;
    r.created_at = 1790000000001;
    r.started_at = 1790000000002;
    r.updated_at = 1790000000003;
    r.finished_at = 1790000000004;
    r.expires_at = 1790000000005;
    r.not_before = 1790000000006;
    r.progress_percent = 42.5;
    r.progress_message = "half way, \xC3\xA9t\xC3\xA9";
    r.input = R"({"rows":[1,2,3]})";
    r.labels = R"({"team":"a"})";
    r.files = {{"data", "u-1"}};
    r.result_name = "out.csv";
    r.error = std::make_shared<const job_error>(job_error{"report/bad-input", "Bad input", "row 3"});
    r.result_type = "text/csv";
    r.result_size = 1234;
    r.result_inline = true;
    r.version = 9;
    r.seq = 77;
    r.past_attempts = std::make_shared<const attempt_history>(attempt_history{
        {1, 1790000000010, 1790000000011, "failed",
         std::make_shared<const job_error>(job_error{"report/db-down", "Job failed", "no database"})},
        {2, 0, 1790000000012, "interrupted", nullptr}});
    return r;
}

}  // namespace ticketd::test
