#include "api/jobs_api.hpp"

#include "api/client_json.hpp"
#include "api/job_document.hpp"
#include "api/problem.hpp"
#include "api/request_headers.hpp"
#include "system/log.hpp"
#include "system/random_id.hpp"
#include "system/sha256.hpp"
#include "system/json_text.hpp"

#include <algorithm>
#include <charconv>

namespace ticketd {

namespace {

// No authentication yet: every client is the same principal (keys and jobs are scoped
// by principal in the engine and the store, ready for auth to fill it in).
constexpr const char* anonymous = "anonymous";

// Seconds a client waits before retrying a write the store could not make durable.
constexpr int store_retry_after = 5;

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

bool parse_int(std::string_view s, long& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

nlohmann::json errors_json(const std::vector<validation_error>& errors) {
    auto out = nlohmann::json::array();
    for (const auto& e : errors) out.push_back({{"pointer", e.pointer}, {"detail", e.detail}});
    return out;
}

// An integer member within [lo, hi] (hi >= 0). Non-negative numbers arrive unsigned, and
// one past 2^63 must not wrap into range.
bool in_range(const nlohmann::json& v, int64_t lo, int64_t hi) {
    if (v.is_number_unsigned()) {
        const uint64_t u = v.get<uint64_t>();
        return u <= static_cast<uint64_t>(hi) && (lo <= 0 || u >= static_cast<uint64_t>(lo));
    }
    return v.is_number_integer() && v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
}

bool valid_file_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    return std::all_of(name.begin(), name.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-';
    });
}

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
    if (!parse_int(parts[0], seq) || seq <= 0) return std::nullopt;
    return seq;
}

}  // namespace

struct jobs_api::call {
    http_request req;
    respond_fn respond;
    problem_context ctx;
    bool head = false;

    void problem(unsigned status, std::string_view code, std::string_view detail,
                 const nlohmann::json& extra = nlohmann::json::object()) const {
        respond(make_problem(ctx, status, code, detail, extra));
    }
    void unavailable(std::string_view detail, int retry_after) const {
        auto res = make_problem(ctx, 503, "unavailable", detail);
        res.set("Retry-After", std::to_string(retry_after));
        respond(std::move(res));
    }
    void method_not_allowed(std::string allow) const {
        auto res = make_problem(ctx, 405, "method-not-allowed",
                                "use " + allow + " on " + req.path);
        res.set("Allow", std::move(allow));
        respond(std::move(res));
    }
    void not_found_job() const { problem(404, "job-not-found", "there is no job with this id"); }
    void gone_job() const { problem(410, "job-gone", "the job was deleted or has expired"); }
    void not_found_upload() const {
        problem(404, "upload-not-found", "there is no upload with this id (it may have expired)");
    }
};

jobs_api::jobs_api(const daemon_config& config, job_service& engine, upload_store& uploads, daemon_metrics& metrics)
    : config_(config), engine_(engine), uploads_(uploads), metrics_(metrics) {}

http_response jobs_api::protocol_error(unsigned status, std::string_view code, std::string_view detail,
                                       const std::string& request_id) {
    auto res = make_problem({base_url_, "", request_id}, status, code, detail);
    if (status == 503) res.set("Retry-After", "1");
    return res;
}

http_response jobs_api::job_response(unsigned status, const job_record& job) const {
    http_response res;
    res.status = status;
    res.set("Content-Type", "application/json");
    res.set("ETag", job.etag());
    res.body = job_document(job, base_url_);
    return res;
}

namespace {
// The route template of a path, for metric labels (never the raw path).
http_route route_of(const std::string& path) {
    static constexpr std::string_view jobs = "/v1/jobs/";
    if (path == "/v1/jobs") return http_route::jobs;
    if (path == "/v1/job-types") return http_route::job_types;
    if (path == "/healthz") return http_route::healthz;
    if (path == "/readyz") return http_route::readyz;
    if (path == "/metrics") return http_route::metrics;
    if (path == "/v1/uploads") return http_route::uploads;
    if (path.rfind("/v1/uploads/", 0) == 0) return http_route::upload;
    if (path.rfind(jobs, 0) != 0) return http_route::other;
    const auto rest = std::string_view(path).substr(jobs.size());
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) return http_route::job;
    if (rest.substr(slash) == "/result") return http_route::job_result;
    if (rest.substr(slash) == "/cancel") return http_route::job_cancel;
    return http_route::other;
}
}  // namespace

void jobs_api::handle(http_request request, respond_fn respond) {
    auto c = std::make_shared<call>();
    c->ctx = {base_url_, request.path, request.request_id};
    c->head = request.method == "HEAD";
    // Every answer is counted and timed by route template, method and status.
    c->respond = [this, respond = std::move(respond), route = route_of(request.path), method = request.method,
                  start = std::chrono::steady_clock::now()](http_response res) {
        metrics_.observe_http(route, method, res.status,
                              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        respond(std::move(res));
    };
    c->req = std::move(request);
    route(std::move(c));
}

void jobs_api::route(std::shared_ptr<call> c) {
    const std::string& path = c->req.path;
    const std::string& method = c->req.method;
    const bool get = method == "GET" || method == "HEAD";

    if (path == "/healthz") {
        if (!get) return c->method_not_allowed("GET, HEAD");
        http_response res;
        res.set("Content-Type", "application/json").set("Cache-Control", "no-store");
        res.body = R"({"status":"ok"})";
        return c->respond(std::move(res));
    }
    if (path == "/readyz") {
        if (!get) return c->method_not_allowed("GET, HEAD");
        if (!ready_ || !engine_.accepting()) return c->unavailable("ticketd is starting or draining", 1);
        if (const auto trouble = engine_.store_trouble(); !trouble.empty()) {
            return c->unavailable("the store cannot write: " + trouble, store_retry_after);
        }
        http_response res;
        res.set("Content-Type", "application/json").set("Cache-Control", "no-store");
        res.body = R"({"status":"ready"})";
        return c->respond(std::move(res));
    }
    if (path == "/metrics" && config_.metrics.enabled && config_.metrics.listen_host.empty()) {
        if (!get) return c->method_not_allowed("GET, HEAD");
        http_response res;
        res.set("Content-Type", daemon_metrics::content_type).set("Cache-Control", "no-store");
        res.body = metrics_.scrape();
        return c->respond(std::move(res));
    }
    if (path == "/v1/jobs") {
        if (method == "POST") return submit(c);
        if (get) return list_jobs(c);
        return c->method_not_allowed("GET, HEAD, POST");
    }
    if (path == "/v1/job-types") {
        if (get) return list_job_types(c);
        return c->method_not_allowed("GET, HEAD");
    }
    if (path == "/v1/uploads") {
        if (method == "POST") return create_upload(c);
        return c->method_not_allowed("POST");
    }
    static constexpr std::string_view uploads_prefix = "/v1/uploads/";
    if (path.rfind(uploads_prefix, 0) == 0) {
        const std::string id = path.substr(uploads_prefix.size());
        if (get) return is_random_id(id) ? get_upload(c, id) : c->not_found_upload();
        if (method == "DELETE") return is_random_id(id) ? delete_upload(c, id) : c->not_found_upload();
        return c->method_not_allowed("GET, HEAD, DELETE");
    }
    static constexpr std::string_view prefix = "/v1/jobs/";
    if (path.rfind(prefix, 0) == 0) {
        const auto parts = split(std::string_view(path).substr(prefix.size()), '/');
        const std::string id(parts[0]);
        if (parts.size() == 1 && !id.empty()) {
            if (get) return is_random_id(id) ? get_job(c, id) : c->not_found_job();
            if (method == "DELETE") return is_random_id(id) ? delete_job(c, id) : c->not_found_job();
            return c->method_not_allowed("GET, HEAD, DELETE");
        }
        if (parts.size() == 2 && parts[1] == "result") {
            if (get) return is_random_id(id) ? get_result(c, id) : c->not_found_job();
            return c->method_not_allowed("GET, HEAD");
        }
        if (parts.size() == 2 && parts[1] == "cancel") {
            if (method == "POST") return is_random_id(id) ? cancel_job(c, id) : c->not_found_job();
            return c->method_not_allowed("POST");
        }
    }
    c->problem(404, "not-found", "no resource at " + path + "; see " + base_url_ + "/v1/jobs");
}

// ---------------------------------------------------------------------------------------
// POST /v1/jobs

void jobs_api::submit(std::shared_ptr<call> c) {
    const auto& req = c->req;
    auto content_type = req.header("content-type");
    if (!content_type || !is_json_media_type(*content_type)) {
        return c->problem(415, "unsupported-media-type", "send the job as Content-Type: application/json");
    }
    std::string key;
    switch (parse_idempotency_key(req, key)) {
        case key_parse::invalid:
            return c->problem(400, "idempotency-key-invalid",
                              "Idempotency-Key must be sent once, 1-255 visible ASCII characters, "
                              "as a quoted string (\"abc\") or a bare token");
        case key_parse::absent:
            if (config_.require_idempotency_key) {
                return c->problem(400, "idempotency-key-missing",
                                  "this server requires an Idempotency-Key header on POST /v1/jobs");
            }
            break;
        case key_parse::ok: break;
    }

    client_json parsed = parse_client_json(req.body, config_.server.max_json_depth);
    const nlohmann::json& body = parsed.value;
    if (body.is_discarded() || !body.is_object()) {
        const std::string why = req.body.empty() ? "the body is empty; send a JSON object such as {\"type\": \"hello\"}"
                                : body.is_discarded() ? parsed.detail
                                                      : "the body must be a JSON object";
        return c->problem(400, "invalid-request", why,
                          {{"errors", nlohmann::json::array({{{"pointer", parsed.pointer}, {"detail", why}}})}});
    }
    std::vector<validation_error> errors;
    submit_request s;
    for (const auto& [name, value] : body.items()) {
        if (name == "type") {
            if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
                errors.push_back({"/type", "must be a non-empty string"});
            } else {
                s.type = value.get<std::string>();
            }
        } else if (name == "input") {
            if (!value.is_object()) errors.push_back({"/input", "must be a JSON object"});
            else s.input = json_text(value);
        } else if (name == "files") {
            if (!value.is_object()) {
                errors.push_back({"/files", "must be an object mapping names to upload ids"});
            } else {
                if (value.size() > 32) errors.push_back({"/files", "at most 32 files per job"});
                for (const auto& [file_name, upload] : value.items()) {
                    if (!valid_file_name(file_name)) {
                        errors.push_back({"/files/" + file_name,
                                          "file names are 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-'"});
                    } else if (!upload.is_string() || !is_random_id(upload.get_ref<const std::string&>())) {
                        errors.push_back({"/files/" + file_name, "must be the id of an upload (POST /v1/uploads)"});
                    } else {
                        s.files.emplace(file_name, upload.get<std::string>());
                    }
                }
            }
        } else if (name == "priority") {
            if (!in_range(value, -1000, 1000)) {
                errors.push_back({"/priority", "must be an integer from -1000 to 1000 (higher runs first)"});
            } else {
                s.priority = value.get<int32_t>();
            }
        } else if (name == "timeoutSeconds") {
            if (!in_range(value, 1, 31'536'000)) {
                errors.push_back({"/timeoutSeconds", "must be a whole number of seconds, at least 1"});
            } else {
                s.timeout_ms = value.get<int64_t>() * 1000;
            }
        } else if (name == "labels") {
            if (!value.is_object() || value.size() > 32) {
                errors.push_back({"/labels", "must be an object of at most 32 string labels"});
            } else {
                for (const auto& [k, v] : value.items()) {
                    if (!v.is_string() || k.empty() || k.size() > 63 || v.get_ref<const std::string&>().size() > 255) {
                        errors.push_back({"/labels/" + k, "labels are strings; names 1-63 and values up to 255 characters"});
                    }
                }
                s.labels = json_text(value);
            }
        } else {
            errors.push_back({"/" + name, "unknown member; expected type, input, files, priority, timeoutSeconds or labels"});
        }
    }
    if (!body.contains("type")) errors.push_back({"/type", "is required"});
    if (!errors.empty()) {
        return c->problem(400, "invalid-request", "the request body is not valid", {{"errors", errors_json(errors)}});
    }
    s.principal = anonymous;
    s.idempotency_key = key;
    if (!key.empty()) {
        // Fingerprint: the job type, the query (minus wait) and the canonical JSON body
        // (nlohmann::json sorts keys and drops whitespace when dumping).
        auto query = req.query;
        std::erase_if(query, [](const auto& kv) { return kv.first == "wait"; });
        std::sort(query.begin(), query.end());
        std::string material = s.type + "\n";
        for (const auto& [k, v] : query) material += k + "=" + v + "&";
        material += "\n" + json_text(body);
        s.fingerprint = sha256_hex(material);
    }
    std::optional<long> wait = prefer_wait(req);
    const long max_wait_s = static_cast<long>(config_.server.max_wait.count() / 1000);

    engine_.submit(std::move(s), [this, c, wait, max_wait_s](submit_outcome out) {
        switch (out.status) {
            case submit_status::accepted:
            case submit_status::replayed: break;
            case submit_status::invalid_input:
                return c->problem(400, "invalid-request", out.detail, {{"errors", errors_json(out.errors)}});
            case submit_status::unknown_type:
                return c->problem(400, "unknown-job-type", out.detail,
                                  {{"errors", nlohmann::json::array({{{"pointer", "/type"}, {"detail", out.detail}}})}});
            case submit_status::key_reused:
                return c->problem(422, "idempotency-key-reused",
                                  "this Idempotency-Key was used with a different request; use a new key",
                                  {{"jobId", out.job_id}});
            case submit_status::key_in_progress: {
                auto res = make_problem(c->ctx, 409, "idempotency-request-in-progress",
                                        "the first request with this Idempotency-Key is still being processed");
                res.set("Retry-After", "1");
                return c->respond(std::move(res));
            }
            case submit_status::key_job_deleted:
                return c->problem(409, "idempotency-key-job-deleted",
                                  "the job this Idempotency-Key created was deleted; use a new key",
                                  {{"jobId", out.job_id}});
            case submit_status::unavailable: return c->unavailable(out.detail, 1);
            case submit_status::store_unavailable: return c->unavailable(out.detail, store_retry_after);
            case submit_status::internal: return c->problem(500, "internal", out.detail);
        }
        const bool replayed = out.status == submit_status::replayed;
        auto answer = [this, c, replayed](const job_record& job, std::optional<long> applied) {
            auto res = job_response(202, job);
            const auto urls = urls_of(base_url_, job.id);
            res.set("Location", urls.self);
            res.set("Content-Location", urls.self);
            res.set("Operation-Location", urls.self + "?redirect=false");
            res.set("Cache-Control", "no-store");
            if (!is_terminal(job.status)) res.set("Retry-After", std::to_string(retry_after_seconds(job)));
            if (replayed) res.set("Idempotent-Replayed", "true");
            if (applied) {
                res.set("Preference-Applied", "wait=" + std::to_string(*applied));
                res.set("Vary", "Prefer");
            }
            c->respond(std::move(res));
        };
        const job_record& job = *out.job;
        if (!wait || *wait <= 0 || is_terminal(job.status)) {
            return answer(job, wait ? std::optional<long>(std::min(*wait, max_wait_s)) : std::nullopt);
        }
        const long applied = std::min(*wait, max_wait_s);
        const auto waiter = engine_.watch(job.id, job.principal, "", std::chrono::seconds(applied),
                                          [answer, job, applied](lookup_outcome now) {
                                              answer(now.job ? *now.job : job, applied);
                                          });
        if (!waiter) return answer(job, std::nullopt);
        release_if_client_leaves(*c, job.id, *waiter);
    });
}

void jobs_api::release_if_client_leaves(const call& c, const std::string& job_id, uint64_t waiter_id) {
    if (waiter_id == 0) return;  // answered at once
    c.req.client_gone->on_gone([this, job_id, waiter_id] { engine_.unwatch(job_id, waiter_id); });
}

// ---------------------------------------------------------------------------------------
// GET /v1/jobs/{id}

void jobs_api::get_job(std::shared_ptr<call> c, const std::string& id) {
    const auto& req = c->req;
    std::optional<long> wait;
    if (auto q = req.query_param("wait")) {
        long v = 0;
        if (!parse_int(*q, v) || v < 0) {
            return c->problem(400, "invalid-wait", "wait must be a whole number of seconds, e.g. ?wait=30");
        }
        wait = v;
    } else {
        wait = prefer_wait(req);
    }
    const bool redirect = req.query_param("redirect") != "false";
    const long max_wait_s = static_cast<long>(config_.server.max_wait.count() / 1000);
    const std::optional<long> applied = wait ? std::optional<long>(std::min(*wait, max_wait_s)) : std::nullopt;

    auto answer = [this, c, redirect, applied](lookup_outcome out) {
        if (out.gone) return c->gone_job();
        if (!out.job) return c->not_found_job();
        const job_record& job = *out.job;
        const bool terminal = is_terminal(job.status);
        http_response res;
        if (if_none_match(c->req, job.etag())) {
            res.status = 304;
            res.set("ETag", job.etag());
        } else if (job.status == job_status::succeeded && redirect) {
            res = job_response(303, job);
            res.set("Location", urls_of(base_url_, job.id).result);
        } else {
            res = job_response(200, job);
        }
        res.set("Cache-Control", "no-cache");
        if (!terminal) {
            // After a long-poll that ran to its deadline the client may ask again at once.
            const bool waited_out = applied && *applied > 0;
            res.set("Retry-After", waited_out ? "0" : std::to_string(retry_after_seconds(job)));
        }
        if (applied) {
            res.set("Preference-Applied", "wait=" + std::to_string(*applied));
            res.set("Vary", "Prefer");
        }
        c->respond(std::move(res));
    };

    if (!applied || *applied == 0) return engine_.get(id, anonymous, answer);
    std::string etag;
    if (auto inm = req.header("if-none-match")) etag = std::string(*inm);
    // The engine compares tags exactly: normalise a weak or listed tag to the strong one
    // by looking at the current document first.
    engine_.get(id, anonymous, [this, c, id, etag, applied, answer](lookup_outcome now) {
        if (!now.job || is_terminal(now.job->status)) return answer(std::move(now));
        std::string watch_etag;
        if (!etag.empty()) {
            if (!if_none_match(c->req, now.job->etag())) return answer(std::move(now));
            watch_etag = now.job->etag();
        }
        const auto waiter = engine_.watch(id, anonymous, watch_etag, std::chrono::seconds(*applied), answer);
        if (!waiter) return c->unavailable("too many clients are waiting; poll again later", 1);
        release_if_client_leaves(*c, id, *waiter);
    });
}

// ---------------------------------------------------------------------------------------
// GET /v1/jobs/{id}/result

void jobs_api::get_result(std::shared_ptr<call> c, const std::string& id) {
    engine_.get(id, anonymous, [this, c](lookup_outcome out) {
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
                              {{"jobStatus", to_string(job.status)}, {"jobError", job_error_object(job, base_url_)}});
        }
        const std::string etag = "\"r-" + job.id + "-" + std::to_string(job.finished_at) + "\"";
        http_response res;
        res.set("ETag", etag);
        res.set("Expires", format_http_date(job.expires_at));
        res.set("Content-Location", urls_of(base_url_, job.id).result);
        res.set("Cache-Control", "private");
        if (if_none_match(c->req, etag)) {
            res.status = 304;
            return c->respond(std::move(res));
        }
        res.set("Content-Type", job.result_type.empty() ? "application/octet-stream" : job.result_type);
        if (!job.result_name.empty()) res.set("Content-Disposition", content_disposition(job.result_name));
        res.set("Accept-Ranges", "bytes");
        if (!job.result_inline) {
            res.file_path = engine_.result_path(job.id).string();
            // The record has the file's size (the server checks a part against the file it opens).
            const range_answer range = apply_range(c->req, res, job.result_size, etag);
            if (range.kind == range_answer::unsatisfiable) {
                return c->respond(range_not_satisfiable(c->ctx, job.result_size));
            }
            if (range.kind == range_answer::part) res.file_part = http_response::byte_span{range.first, range.length};
            return c->respond(std::move(res));
        }
        engine_.read_result(job.id, [c, etag, res = std::move(res)](std::optional<std::string> body) mutable {
            if (!body) return c->problem(500, "internal", "the result could not be read");
            const range_answer range = apply_range(c->req, res, body->size(), etag);
            if (range.kind == range_answer::unsatisfiable) {
                return c->respond(range_not_satisfiable(c->ctx, body->size()));
            }
            res.body = range.kind == range_answer::part ? body->substr(range.first, range.length) : std::move(*body);
            c->respond(std::move(res));
        });
    });
}

// ---------------------------------------------------------------------------------------
// POST /v1/jobs/{id}/cancel, DELETE /v1/jobs/{id}

void jobs_api::cancel_job(std::shared_ptr<call> c, const std::string& id) {
    engine_.cancel(id, anonymous, [this, c](cancel_outcome out) {
        switch (out.status) {
            case cancel_status::not_found: return c->not_found_job();
            case cancel_status::gone: return c->gone_job();
            case cancel_status::internal:
                return c->unavailable("the cancellation could not be stored (the state directory cannot be written "
                                      "now); retry later",
                                      store_retry_after);
            case cancel_status::already_terminal:
                return c->problem(409, "job-already-terminal",
                                  "the job already " + std::string(to_string(out.job->status)) + "; nothing to cancel",
                                  {{"jobStatus", to_string(out.job->status)}});
            case cancel_status::canceled: {
                auto res = job_response(200, *out.job);
                res.set("Cache-Control", "no-store");
                return c->respond(std::move(res));
            }
            case cancel_status::cancel_requested: {
                auto res = job_response(202, *out.job);
                res.set("Location", urls_of(base_url_, out.job->id).self);
                res.set("Retry-After", "1");
                res.set("Cache-Control", "no-store");
                return c->respond(std::move(res));
            }
        }
    });
}

void jobs_api::delete_job(std::shared_ptr<call> c, const std::string& id) {
    if (!c->req.body.empty()) {
        return c->problem(400, "invalid-request", "DELETE takes no body");
    }
    engine_.remove(id, anonymous, [c](remove_status status) {
        http_response res;
        switch (status) {
            case remove_status::not_found: return c->not_found_job();
            case remove_status::internal:
                return c->unavailable("the deletion could not be stored (the state directory cannot be written now); "
                                      "retry later",
                                      store_retry_after);
            case remove_status::removed_terminal: res.status = 204; break;
            case remove_status::removed_live: res.status = 202; break;
        }
        c->respond(std::move(res));
    });
}

// ---------------------------------------------------------------------------------------
// GET /v1/jobs, GET /v1/job-types

void jobs_api::list_jobs(std::shared_ptr<call> c) {
    const auto& req = c->req;
    job_query q;
    q.principal = anonymous;
    auto bad = [&](const std::string& parameter, const std::string& detail) {
        c->problem(400, "invalid-request", detail,
                   {{"errors", nlohmann::json::array({{{"parameter", parameter}, {"detail", detail}}})}});
    };
    if (auto v = req.query_param("status")) {
        for (auto part : split(*v, ',')) {
            auto st = parse_job_status(part);
            if (!st) return bad("status", "unknown status '" + std::string(part) +
                                              "'; use queued, running, succeeded, failed or canceled");
            q.statuses.push_back(*st);
        }
    }
    if (auto v = req.query_param("type")) q.type = std::string(*v);
    if (auto v = req.query_param("idempotencyKey")) q.idempotency_key = std::string(*v);
    for (const char* name : {"createdAfter", "createdBefore"}) {
        if (auto v = req.query_param(name)) {
            auto t = parse_rfc3339(*v);
            if (!t) return bad(name, std::string(name) + " must be an RFC 3339 time, e.g. 2026-01-31T12:00:00Z");
            (std::string_view(name) == "createdAfter" ? q.created_after : q.created_before) = *t;
        }
    }
    if (auto v = req.query_param("pageSize")) {
        long n = 0;
        if (!parse_int(*v, n) || n <= 0) return bad("pageSize", "pageSize must be a whole number from 1 (at most 500 are returned)");
        q.limit = static_cast<unsigned>(std::min(n, 500L));
    }
    if (auto v = req.query_param("pageToken")) {
        auto cursor = parse_page_token(*v);
        if (!cursor) return c->problem(400, "invalid-page-token", "the pageToken is not one this server issued");
        q.before_seq = *cursor;
    }
    const unsigned limit = q.limit;
    q.limit = limit + 1;  // one more tells whether there is a next page
    engine_.list(q, [this, c, limit](std::vector<job_record> rows) {
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
            res.body += job_document(rows[i], base_url_);
        }
        res.body += "],\"nextPageToken\":" + json_text(next) + "}";
        c->respond(std::move(res));
    });
}

void jobs_api::list_job_types(std::shared_ptr<call> c) {
    const auto schema = [](const std::string& text) {  // none: {} (any value)
        return text.empty() ? nlohmann::json::object() : nlohmann::json::parse(text);
    };
    nlohmann::json types = nlohmann::json::array();
    for (const auto& t : engine_.types()) {
        types.push_back({
            {"type", t.type},
            {"plugin", {{"name", t.plugin}, {"version", t.plugin_version}, {"license", t.plugin_license},
                        {"description", t.plugin_description}}},
            {"inputSchema", schema(t.input_schema)},
            {"settingsSchema", schema(t.settings_schema)},
            {"workers", t.workers},
            {"busyWorkers", t.busy},
            {"queueLength", t.queue_length},
            {"queueCapacity", t.queue_capacity},
            {"timeoutSeconds", t.timeout_ms / 1000.0},
            {"maxAttempts", t.max_attempts},
            {"retentionSeconds", t.retention_ms / 1000},
            {"maxInputBytes", t.max_input_bytes},
        });
    }
    http_response res;
    res.set("Content-Type", "application/json");
    res.set("Cache-Control", "no-cache");
    res.body = json_text(nlohmann::json{{"jobTypes", std::move(types)}});
    c->respond(std::move(res));
}

// ---------------------------------------------------------------------------------------
// Uploads: POST /v1/uploads (the body was streamed to disk by plan_body's sink),
// GET/HEAD/DELETE /v1/uploads/{id}

body_plan jobs_api::plan_body(const http_request& head) {
    if (head.path != "/v1/uploads" || head.method != "POST") return {};
    body_plan plan;
    const problem_context ctx{base_url_, head.path, head.request_id};
    const auto content_type = head.header("content-type");
    if (content_type && !is_media_type(*content_type)) {
        plan.reject = std::make_shared<http_response>(make_problem(
            ctx, 400, "invalid-request",
            "Content-Type '" + std::string(*content_type) + "' is not a media type such as audio/wav"));
        return plan;
    }
    if (!engine_.accepting()) {
        auto res = make_problem(ctx, 503, "unavailable", "ticketd is starting or shutting down");
        res.set("Retry-After", "1");
        plan.reject = std::make_shared<http_response>(std::move(res));
        return plan;
    }
    try {
        plan.sink = uploads_.begin();
        plan.limit = config_.uploads.max_bytes;
    } catch (const std::exception& e) {
        log_error(std::string("uploads: ") + e.what());
        plan.reject = std::make_shared<http_response>(make_problem(ctx, 500, "internal", "the upload cannot be stored"));
    }
    return plan;
}

void jobs_api::create_upload(std::shared_ptr<call> c) {
    if (!c->req.streamed_body) return c->problem(500, "internal", "the upload was not received");
    auto content_type = c->req.header("content-type");
    uploads_.commit(std::move(c->req.streamed_body), anonymous,
                    content_type ? std::string(*content_type) : "application/octet-stream",
                    [this, c](std::optional<upload_record> u, const std::string&) {
                        if (!u) {
                            return c->unavailable("the upload could not be stored (ticketd's storage cannot be "
                                                  "written now); retry later",
                                                  store_retry_after);
                        }
                        http_response res;
                        res.status = 201;
                        const std::string self = base_url_ + "/v1/uploads/" + u->id;
                        res.set("Location", self).set("Content-Type", "application/json").set("Cache-Control", "no-store");
                        res.body = json_text(upload_document(*u, base_url_));
                        c->respond(std::move(res));
                    });
}

void jobs_api::get_upload(std::shared_ptr<call> c, const std::string& id) {
    const auto u = uploads_.find(id, anonymous);
    if (!u) return c->not_found_upload();
    http_response res;
    res.set("Content-Type", "application/json").set("Cache-Control", "no-cache");
    res.set("ETag", "\"" + u->sha256.substr(0, 32) + "\"");
    res.body = json_text(upload_document(*u, base_url_));
    c->respond(std::move(res));
}

void jobs_api::delete_upload(std::shared_ptr<call> c, const std::string& id) {
    uploads_.remove(id, anonymous, [c](upload_store::remove_status status) {
        switch (status) {
            case upload_store::remove_status::removed: {
                http_response res;
                res.status = 204;
                return c->respond(std::move(res));
            }
            case upload_store::remove_status::not_found: return c->not_found_upload();
            case upload_store::remove_status::in_use:
                return c->problem(409, "upload-in-use",
                                  "a job that has not finished uses this upload; delete it after the job ends");
            case upload_store::remove_status::internal:
                return c->unavailable("the deletion could not be stored (the state directory cannot be written now); "
                                      "retry later",
                                      store_retry_after);
        }
    });
}

}  // namespace ticketd
