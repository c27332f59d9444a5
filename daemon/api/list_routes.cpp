// GET /v1/jobs: a page of the caller's jobs, newest first.
#include "api/access.hpp"
#include "api/job_document.hpp"
#include "api/request_headers.hpp"
#include "api/routes.hpp"
#include "system/json_text.hpp"
#include "system/sha256.hpp"

#include <algorithm>

namespace ticketd::routes {

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (;;) {
        const auto pos = s.find(sep, start);
        out.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
        if (pos == std::string_view::npos) return out;
        start = pos + 1;
    }
}

// Page tokens: "<seq>.<check>"; the check makes edited or made-up tokens fail cleanly.
std::string make_page_token(int64_t seq) {
    const std::string payload = std::to_string(seq);
    return payload + "." + sha256_hex("ticketd-page-token:" + payload).substr(0, 16);
}

std::optional<int64_t> parse_page_token(std::string_view token) {
    const auto parts = split(token, '.');
    if (parts.size() != 2) return std::nullopt;
    if (sha256_hex("ticketd-page-token:" + std::string(parts[0])).substr(0, 16) != parts[1]) return std::nullopt;
    long seq = 0;
    if (!parse_whole_number(parts[0], seq) || seq <= 0) return std::nullopt;
    return seq;
}

}  // namespace

void list_jobs(const call_ptr& c, const std::string&) {
    const auto& req = c->req;
    job_query q;
    // One's own jobs; an administrator's list holds every principal's, or `principal`'s.
    const auto principal = req.query_param("principal");
    if (principal && *principal != c->who.principal && !c->who.every_principal) {
        log_denied(c->api.config.auth.max_denied_log_lines, 403, "lacks admin", c->key.get(), "/v1/jobs", req);
        return c->respond(forbidden(c->ctx, scope_name(scope::admin)));
    }
    if (principal) q.principal = std::string(*principal);
    else if (!c->who.every_principal) q.principal = c->who.principal;
    auto bad = [&](const std::string& parameter, const std::string& detail) {
        c->problem(400, "invalid-request", detail,
                   {{"errors", nlohmann::json::array({{{"parameter", parameter}, {"detail", detail}}})}});
    };
    if (auto v = req.query_param("status")) {
        for (auto part : split(*v, ',')) {
            auto st = parse_job_status(part);
            if (!st) {
                return bad("status",
                           "unknown status '" + std::string(part) + "'; use queued, running, succeeded, failed or canceled");
            }
            q.statuses.push_back(*st);
        }
    }
    if (auto v = req.query_param("type")) q.type = std::string(*v);
    if (auto v = req.query_param("idempotencyKey")) q.idempotency_key = std::string(*v);
    if (auto v = req.query_param("code")) q.error_code = std::string(*v);
    for (const char* name : {"createdAfter", "createdBefore"}) {
        if (auto v = req.query_param(name)) {
            auto t = parse_rfc3339(*v);
            if (!t) return bad(name, std::string(name) + " must be an RFC 3339 time, e.g. 2026-01-31T12:00:00Z");
            (std::string_view(name) == "createdAfter" ? q.created_after : q.created_before) = *t;
        }
    }
    if (auto v = req.query_param("pageSize")) {
        long n = 0;
        if (!parse_whole_number(*v, n) || n <= 0) {
            return bad("pageSize", "pageSize must be a whole number from 1 (at most 500 are returned)");
        }
        q.limit = static_cast<unsigned>(std::min(n, 500L));
    }
    if (auto v = req.query_param("pageToken")) {
        auto cursor = parse_page_token(*v);
        if (!cursor) return c->problem(400, "invalid-page-token", "the pageToken is not one this server issued");
        q.before_seq = *cursor;
    }
    const unsigned limit = q.limit;
    q.limit = limit + 1;  // one more tells whether there is a next page
    c->api.jobs.list(q, [c, limit](std::vector<job_record> rows) {
        nlohmann::json next = nullptr;
        if (rows.size() > limit) {
            rows.resize(limit);
            next = make_page_token(rows.back().seq);
        }
        http_response res;
        res.set("Content-Type", "application/json");
        res.set("Cache-Control", "no-store");
        res.body = "{\"jobs\":[";
        for (size_t i = 0; i < rows.size(); ++i) {
            if (i) res.body += ',';
            res.body += job_document(rows[i], c->api.base_url);
        }
        res.body += "],\"nextPageToken\":" + json_text(next) + "}";
        c->respond(std::move(res));
    });
}

}  // namespace ticketd::routes
