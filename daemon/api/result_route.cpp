// GET /v1/jobs/{id}/result: a succeeded job's result, whole or one Range, from its file
// or from the store.
#include "api/job_document.hpp"
#include "api/request_headers.hpp"
#include "api/routes.hpp"

#include <cctype>

namespace ticketd::routes {

namespace {

// Content-Disposition for a result the plugin named: an ASCII fallback and the exact
// UTF-8 name (RFC 6266 / RFC 8187).
std::string content_disposition(std::string_view name) {
    std::string ascii, encoded;
    static constexpr char hex[] = "0123456789ABCDEF";
    for (const char ch : name) {
        const auto u = static_cast<unsigned char>(ch);
        const bool safe = std::isalnum(u) || ch == '.' || ch == '_' || ch == '-';
        ascii += safe ? ch : '_';
        if (safe) {
            encoded += ch;
        } else {
            encoded += '%';
            encoded += hex[u >> 4];
            encoded += hex[u & 0xF];
        }
    }
    return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

// A GET's Range over a result of `size` bytes (RFC 9110 14): for a part, `res` becomes
// a 206 with its Content-Range; the caller sends the part's bytes, or range_not_satisfiable.
range_answer apply_range(const http_request& req, http_response& res, uint64_t size, std::string_view etag) {
    const range_answer range = requested_range(req, size, etag);
    if (range.kind == range_answer::part) {
        res.status = 206;
        res.set("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                     std::to_string(range.first + range.length - 1) + "/" + std::to_string(size));
    }
    return range;
}

http_response range_not_satisfiable(const problem_context& ctx, uint64_t size) {
    auto res = make_problem(ctx, 416, "range-not-satisfiable",
                            "the result has " + std::to_string(size) + " bytes; the Range asks for none of them",
                            {{"resultBytes", size}});
    res.set("Content-Range", "bytes */" + std::to_string(size));
    return res;
}

}  // namespace

void get_result(const call_ptr& c, const std::string& id) {
    c->api.jobs.get(id, c->who, [c](lookup_outcome out) {
        if (out.gone) return c->gone_job();
        if (!out.job) return c->not_found_job();
        const job_record& job = *out.job;
        if (!is_terminal(job.status)) {
            auto res = make_problem(c->ctx, 409, "result-not-ready", "the job has not finished yet",
                                    {{"jobStatus", to_string(job.status)}});
            res.set("Retry-After", std::to_string(retry_after_seconds(job)));
            return c->respond(std::move(res));
        }
        if (job.status != job_status::succeeded) {
            return c->problem(409, "result-unavailable", "the job did not succeed, so it has no result",
                              {{"jobStatus", to_string(job.status)},
                               {"jobError", job_error_object(job, c->api.base_url)}});
        }
        const std::string etag = "\"r-" + job.id + "-" + std::to_string(job.finished_at) + "\"";
        http_response res;
        res.set("ETag", etag);
        res.set("Expires", format_http_date(job.expires_at));
        res.set("Content-Location", urls_of(c->api.base_url, job.id).result);
        res.set("Cache-Control", "private");
        if (if_none_match(c->req, etag)) {
            res.status = 304;
            return c->respond(std::move(res));
        }
        res.set("Content-Type", job.result_type.empty() ? "application/octet-stream" : job.result_type);
        if (!job.result_name.empty()) res.set("Content-Disposition", content_disposition(job.result_name));
        res.set("Accept-Ranges", "bytes");
        if (!job.result_inline) {
            res.file_path = c->api.jobs.result_path(job.id).string();
            // The record has the file's size (the server checks a part against the file it opens).
            const range_answer range = apply_range(c->req, res, job.result_size, etag);
            if (range.kind == range_answer::unsatisfiable) {
                return c->respond(range_not_satisfiable(c->ctx, job.result_size));
            }
            if (range.kind == range_answer::part) res.file_part = http_response::byte_span{range.first, range.length};
            return c->respond(std::move(res));
        }
        c->api.jobs.read_result(job.id, [c, etag, res = std::move(res)](std::optional<std::string> body) mutable {
            if (!body) return c->problem(500, "internal", "the result could not be read");
            const range_answer range = apply_range(c->req, res, body->size(), etag);
            if (range.kind == range_answer::unsatisfiable) return c->respond(range_not_satisfiable(c->ctx, body->size()));
            res.body = range.kind == range_answer::part ? body->substr(range.first, range.length) : std::move(*body);
            c->respond(std::move(res));
        });
    });
}

}  // namespace ticketd::routes
