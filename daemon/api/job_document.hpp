// The job document (protocol.md "Job document"): camelCase JSON with absolute links.
#pragma once

#include "model/job.hpp"
#include "model/upload.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace ticketd {

struct job_urls {
    std::string self;
    std::string result;
    std::string cancel;
};

job_urls urls_of(const std::string& base_url, const std::string& job_id);
// The job document as JSON text.
std::string job_document(const job_record& job, const std::string& base_url);
// Its `error` member (an RFC 9457 object), or null when the job has none.
nlohmann::json job_error_object(const job_record& job, const std::string& base_url);
// The upload document: {id, size, sha256, contentType, createdAt, expiresAt, links}.
nlohmann::json upload_document(const upload_record& upload, const std::string& base_url);
// Seconds a client should wait before polling again: grows with the job's age, 1..60.
int retry_after_seconds(const job_record& job);

}  // namespace ticketd
