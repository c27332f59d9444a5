#include "api/problem.hpp"

#include "system/json_text.hpp"

#include <map>

namespace ticketd {

std::string_view problem_title(std::string_view code) {
    static const std::map<std::string_view, std::string_view> titles = {
        {"invalid-request", "Invalid request"},
        {"unknown-job-type", "Unknown job type"},
        {"unsupported-media-type", "Unsupported media type"},
        {"content-too-large", "Content too large"},
        {"unavailable", "Service unavailable"},
        {"insufficient-storage", "Insufficient storage"},
        {"idempotency-key-reused", "Idempotency key reused with a different request"},
        {"idempotency-request-in-progress", "A request with this idempotency key is in progress"},
        {"idempotency-key-job-deleted", "The idempotency key's job was deleted"},
        {"idempotency-key-missing", "Idempotency-Key header required"},
        {"idempotency-key-invalid", "Invalid Idempotency-Key header"},
        {"job-not-found", "Job not found"},
        {"job-gone", "Job gone"},
        {"result-not-ready", "Result not ready"},
        {"result-unavailable", "Result unavailable"},
        {"range-not-satisfiable", "Range not satisfiable"},
        {"job-already-terminal", "Job already finished"},
        {"invalid-wait", "Invalid wait"},
        {"invalid-page-token", "Invalid page token"},
        {"method-not-allowed", "Method not allowed"},
        {"not-found", "Not found"},
        {"internal", "Internal error"},
    };
    auto it = titles.find(code);
    return it == titles.end() ? std::string_view("Error") : it->second;
}

http_response make_problem(const problem_context& ctx, unsigned status, std::string_view code,
                           std::string_view detail, const nlohmann::json& extra) {
    nlohmann::json body = {
        {"type", ctx.base_url + "/problems/" + std::string(code)},
        {"title", problem_title(code)},
        {"status", status},
        {"detail", detail},
        {"instance", ctx.instance},
        {"code", code},
        {"requestId", ctx.request_id},
    };
    for (const auto& [k, v] : extra.items()) body[k] = v;
    http_response res;
    res.status = status;
    res.set("Content-Type", "application/problem+json");
    res.set("Cache-Control", "no-store");
    res.body = json_text(body);
    return res;
}

}  // namespace ticketd
