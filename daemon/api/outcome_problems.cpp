#include "api/outcome_problems.hpp"

namespace ticketd {

namespace {

// One outcome's answer. detail null: the outcome's own; retry_after 0: none.
struct problem_spec {
    unsigned status;
    const char* code;
    const char* detail;
    int retry_after;
};

constexpr const char* not_stored = "could not be stored (the state directory cannot be written now); retry later";

void answer(const api_call& c, const problem_spec& p, std::string_view detail,
            const nlohmann::json& extra = nlohmann::json::object()) {
    auto res = make_problem(c.ctx, p.status, p.code, p.detail ? std::string_view(p.detail) : detail, extra);
    if (p.retry_after > 0) res.set("Retry-After", std::to_string(p.retry_after));
    c.respond(std::move(res));
}

}  // namespace

nlohmann::json errors_json(const std::vector<validation_error>& errors) {
    auto out = nlohmann::json::array();
    for (const auto& e : errors) out.push_back({{"pointer", e.pointer}, {"detail", e.detail}});
    return out;
}

bool answer_problem(const api_call& c, const submit_outcome& out) {
    static const problem_spec key_reused{422, "idempotency-key-reused",
                                         "this Idempotency-Key was used with a different request; use a new key", 0};
    static const problem_spec key_in_progress{
        409, "idempotency-request-in-progress", "the first request with this Idempotency-Key is still being processed", 1};
    static const problem_spec key_job_deleted{409, "idempotency-key-job-deleted",
                                              "the job this Idempotency-Key created was deleted; use a new key", 0};
    switch (out.status) {
        case submit_status::accepted:
        case submit_status::replayed: return false;
        case submit_status::invalid_input:
            answer(c, {400, "invalid-request", nullptr, 0}, out.detail, {{"errors", errors_json(out.errors)}});
            return true;
        case submit_status::unknown_type:
            answer(c, {400, "unknown-job-type", nullptr, 0}, out.detail,
                   {{"errors", errors_json({{"/type", out.detail}})}});
            return true;
        case submit_status::key_reused: answer(c, key_reused, {}, {{"jobId", out.job_id}}); return true;
        case submit_status::key_in_progress: answer(c, key_in_progress, {}); return true;
        case submit_status::key_job_deleted: answer(c, key_job_deleted, {}, {{"jobId", out.job_id}}); return true;
        case submit_status::unavailable: answer(c, {503, "unavailable", nullptr, 1}, out.detail); return true;
        case submit_status::store_unavailable:
            answer(c, {503, "unavailable", nullptr, store_retry_after}, out.detail);
            return true;
        case submit_status::over_quota: answer(c, {429, "quota-exceeded", nullptr, 5}, out.detail); return true;
        case submit_status::internal: answer(c, {500, "internal", nullptr, 0}, out.detail); return true;
    }
    return false;
}

bool answer_problem(const api_call& c, const cancel_outcome& out) {
    switch (out.status) {
        case cancel_status::canceled:
        case cancel_status::cancel_requested: return false;
        case cancel_status::not_found: c.not_found_job(); return true;
        case cancel_status::gone: c.gone_job(); return true;
        case cancel_status::internal:
            answer(c, {503, "unavailable", nullptr, store_retry_after}, std::string("the cancellation ") + not_stored);
            return true;
        case cancel_status::already_terminal: {
            const std::string status(to_string(out.job->status));
            answer(c, {409, "job-already-terminal", nullptr, 0}, "the job already " + status + "; nothing to cancel",
                   {{"jobStatus", status}});
            return true;
        }
    }
    return false;
}

namespace {
problem_spec rerun_problem(rerun_status status) {
    switch (status) {
        case rerun_status::requeued:
        case rerun_status::not_found:
        case rerun_status::gone: break;
        case rerun_status::not_rerunnable: return {409, "job-not-retryable", nullptr, 0};
        case rerun_status::unknown_type: return {409, "job-type-unavailable", nullptr, 0};
        case rerun_status::files_gone: return {409, "upload-gone", nullptr, 0};
        case rerun_status::unavailable: return {503, "unavailable", nullptr, 1};
        case rerun_status::over_quota: return {429, "quota-exceeded", nullptr, 5};
        case rerun_status::internal: return {503, "unavailable", nullptr, store_retry_after};
    }
    return {500, "internal", nullptr, 0};
}
}  // namespace

std::string_view rerun_problem_code(const rerun_outcome& out) {
    switch (out.status) {
        case rerun_status::requeued: return "";
        case rerun_status::not_found: return "job-not-found";
        case rerun_status::gone: return "job-gone";
        default: return rerun_problem(out.status).code;
    }
}

bool answer_problem(const api_call& c, const rerun_outcome& out) {
    switch (out.status) {
        case rerun_status::requeued: return false;
        case rerun_status::not_found: c.not_found_job(); return true;
        case rerun_status::gone: c.gone_job(); return true;
        default: break;
    }
    nlohmann::json extra = nlohmann::json::object();
    if (out.status == rerun_status::not_rerunnable && out.job) extra["jobStatus"] = to_string(out.job->status);
    answer(c, rerun_problem(out.status), out.detail, extra);
    return true;
}

bool answer_problem(const api_call& c, remove_status status) {
    switch (status) {
        case remove_status::removed_terminal:
        case remove_status::removed_live: return false;
        case remove_status::not_found: c.not_found_job(); return true;
        case remove_status::internal:
            answer(c, {503, "unavailable", nullptr, store_retry_after}, std::string("the deletion ") + not_stored);
            return true;
    }
    return false;
}

bool answer_problem(const api_call& c, upload_store::remove_status status) {
    switch (status) {
        case upload_store::remove_status::removed: return false;
        case upload_store::remove_status::not_found: c.not_found_upload(); return true;
        case upload_store::remove_status::in_use:
            answer(c, {409, "upload-in-use", "a job that has not finished uses this upload; delete it after the job ends", 0},
                   {});
            return true;
        case upload_store::remove_status::internal:
            answer(c, {503, "unavailable", nullptr, store_retry_after}, std::string("the deletion ") + not_stored);
            return true;
    }
    return false;
}

}  // namespace ticketd
