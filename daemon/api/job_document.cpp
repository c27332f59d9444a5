#include "api/job_document.hpp"

#include <algorithm>

namespace ticketd {

job_urls urls_of(const std::string& base_url, const std::string& job_id) {
    const std::string self = base_url + "/v1/jobs/" + job_id;
    return {self, self + "/result", self + "/cancel"};
}

namespace {
nlohmann::json time_or_null(unix_ms t) { return t == 0 ? nlohmann::json(nullptr) : nlohmann::json(format_rfc3339(t)); }
}  // namespace

nlohmann::json job_document(const job_record& j, const std::string& base_url) {
    const auto urls = urls_of(base_url, j.id);
    nlohmann::json doc = {
        {"id", j.id},
        {"type", j.type},
        {"status", to_string(j.status)},
        {"cancelRequested", j.cancel_requested},
        {"attempt", j.attempt},
        {"priority", j.priority},
        {"createdAt", format_rfc3339(j.created_at)},
        {"startedAt", time_or_null(j.started_at)},
        {"updatedAt", format_rfc3339(j.updated_at)},
        {"finishedAt", time_or_null(j.finished_at)},
        {"expiresAt", time_or_null(j.expires_at)},
        {"labels", j.labels},
        {"idempotencyKey", j.idempotency_key.empty() ? nlohmann::json(nullptr) : nlohmann::json(j.idempotency_key)},
        {"links", {{"self", urls.self}, {"result", urls.result}, {"cancel", urls.cancel}}},
    };
    if (!j.files.empty()) doc["files"] = j.files;
    if (j.progress_percent) {
        doc["progress"] = {{"percent", *j.progress_percent}, {"message", j.progress_message}};
    }
    if (j.error && (j.status == job_status::failed || j.status == job_status::canceled)) {
        doc["error"] = {{"type", base_url + "/problems/" + j.error->code},
                        {"title", j.error->title},
                        {"detail", j.error->detail},
                        {"code", j.error->code}};
    }
    if (j.status == job_status::succeeded) doc["resourceLocation"] = urls.result;
    return doc;
}

nlohmann::json upload_document(const upload_record& u, const std::string& base_url) {
    return {{"id", u.id},
            {"size", u.size},
            {"sha256", u.sha256},
            {"contentType", u.content_type},
            {"createdAt", format_rfc3339(u.created_at)},
            {"expiresAt", format_rfc3339(u.expires_at)},
            {"links", {{"self", base_url + "/v1/uploads/" + u.id}}}};
}

int retry_after_seconds(const job_record& j) {
    const int64_t age_s = std::max<int64_t>(0, (now_unix_ms() - j.created_at) / 1000);
    if (age_s < 10) return 1;
    if (age_s < 60) return 2;
    if (age_s < 300) return 5;
    if (age_s < 1800) return 15;
    return 30;
}

}  // namespace ticketd
