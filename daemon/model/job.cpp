#include "model/job.hpp"

namespace ticketd {

std::string_view to_string(job_status s) {
    switch (s) {
        case job_status::queued: return "queued";
        case job_status::running: return "running";
        case job_status::succeeded: return "succeeded";
        case job_status::failed: return "failed";
        case job_status::canceled: return "canceled";
        case job_status::scheduled: return "scheduled";
    }
    return "queued";
}

std::optional<job_status> parse_job_status(std::string_view s) {
    for (auto st : {job_status::queued, job_status::running, job_status::succeeded,
                    job_status::failed, job_status::canceled, job_status::scheduled}) {
        if (to_string(st) == s) return st;
    }
    return std::nullopt;
}

// The version alone could repeat after a restart (progress bumps are not stored), so the
// tag also carries updatedAt: a later change always has a later or equal time and a
// different version.
std::string job_record::etag() const {
    std::string tag = "\"";
    tag += std::to_string(version);
    tag += '-';
    tag += std::to_string(updated_at);
    tag += '"';
    return tag;
}

std::string_view job_record::attempt_outcome() const {
    if (status != job_status::failed) return to_string(status);
    const std::string_view code = error ? std::string_view(error->code) : std::string_view();
    return code == "job-timeout" ? "timeout" : code == "job-interrupted" ? "interrupted" : "failed";
}

}  // namespace ticketd
