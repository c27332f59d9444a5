#include "api/job_document.hpp"

#include "system/json_text.hpp"

#include <algorithm>

namespace ticketd {

job_urls urls_of(const std::string& base_url, const std::string& job_id) {
    const std::string self = base_url + "/v1/jobs/" + job_id;
    return {self, self + "/result", self + "/cancel"};
}

namespace {

// Appends `v` as a JSON string. Every string in a job record is valid UTF-8 (clients'
// JSON is parsed, plugins' strings are cleaned at the plugin boundary): only quotes,
// backslashes and control characters need escaping.
void append_string(std::string& out, std::string_view v) {
    out += '"';
    size_t run = 0;  // start of the bytes not yet copied: copied in runs, not one by one
    for (size_t i = 0; i < v.size(); ++i) {
        const auto ch = static_cast<unsigned char>(v[i]);
        if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
        out.append(v.data() + run, i - run);
        run = i + 1;
        switch (ch) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default: {
                static constexpr char hex[] = "0123456789abcdef";
                const char escaped[] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 0xF]};
                out.append(escaped, sizeof escaped);
            }
        }
    }
    out.append(v.data() + run, v.size() - run);
    out += '"';
}

// Builds one JSON object member by member.
class object_writer {
   public:
    explicit object_writer(std::string& out) : out_(out) { out_ += '{'; }
    object_writer& raw(std::string_view key, std::string_view json) {
        name(key);
        out_ += json;
        return *this;
    }
    object_writer& str(std::string_view key, std::string_view value) {
        name(key);
        append_string(out_, value);
        return *this;
    }
    object_writer& time(std::string_view key, unix_ms t) {
        if (t == 0) return raw(key, "null");
        name(key);
        out_ += '"';
        append_rfc3339(out_, t);
        out_ += '"';
        return *this;
    }
    void end() { out_ += '}'; }

   private:
    void name(std::string_view key) {  // keys are our own camelCase literals: no escaping
        out_ += first_ ? "\"" : ",\"";
        first_ = false;
        out_ += key;
        out_ += "\":";
    }
    std::string& out_;
    bool first_ = true;
};

}  // namespace

namespace {
nlohmann::json error_object(const job_error& e, const std::string& base_url) {
    return {{"type", base_url + "/problems/" + e.code}, {"title", e.title}, {"detail", e.detail}, {"code", e.code}};
}

void append_attempt(std::string& out, uint32_t number, unix_ms started_at, unix_ms finished_at,
                    std::string_view outcome, const job_error* error, const std::string& base_url) {
    object_writer a(out);
    a.raw("number", std::to_string(number)).time("startedAt", started_at).time("finishedAt", finished_at);
    a.str("outcome", outcome);
    if (error) a.raw("error", json_text(error_object(*error, base_url)));
    a.end();
}

// Every attempt that started: the past ones kept, then the current one.
std::string attempts_array(const job_record& j, const std::string& base_url) {
    std::string out = "[";
    if (j.past_attempts) {
        for (const auto& a : *j.past_attempts) {
            if (out.size() > 1) out += ',';
            append_attempt(out, a.number, a.started_at, a.finished_at, a.outcome, a.error.get(), base_url);
        }
    }
    if (j.started_at != 0) {
        if (out.size() > 1) out += ',';
        const bool ended = is_terminal(j.status);
        append_attempt(out, j.attempt, j.started_at, ended ? j.finished_at : 0, j.attempt_outcome(),
                       ended && j.status != job_status::succeeded ? j.error.get() : nullptr, base_url);
    }
    return out + "]";
}
}  // namespace

nlohmann::json job_error_object(const job_record& j, const std::string& base_url) {
    if (!j.error || (j.status != job_status::failed && j.status != job_status::canceled)) return nullptr;
    return error_object(*j.error, base_url);
}

// Written directly as text (no JSON tree): this is the most rendered document, on every
// poll and long-poll answer.
std::string job_document(const job_record& j, const std::string& base_url) {
    const auto urls = urls_of(base_url, j.id);
    std::string out;
    out.reserve(512);
    object_writer doc(out);
    doc.str("id", j.id).str("type", j.type).str("principal", j.principal).str("status", to_string(j.status));
    doc.raw("cancelRequested", j.cancel_requested ? "true" : "false");
    doc.raw("attempt", std::to_string(j.attempt)).raw("priority", std::to_string(j.priority));
    doc.time("createdAt", j.created_at).time("startedAt", j.started_at).time("updatedAt", j.updated_at);
    doc.time("finishedAt", j.finished_at).time("expiresAt", j.expires_at);
    doc.raw("labels", j.labels);
    if (j.idempotency_key.empty()) doc.raw("idempotencyKey", "null");
    else doc.str("idempotencyKey", j.idempotency_key);
    {
        doc.raw("links", "");  // the member's name; its object follows in place
        object_writer l(out);
        l.str("self", urls.self).str("result", urls.result).str("cancel", urls.cancel);
        l.end();
    }
    if (!j.files.empty()) doc.raw("files", json_text(nlohmann::json(j.files)));
    if (j.progress_percent) {
        std::string progress;
        object_writer p(progress);
        p.raw("percent", json_text(*j.progress_percent)).str("message", j.progress_message);
        p.end();
        doc.raw("progress", progress);
    }
    doc.raw("attempts", attempts_array(j, base_url));
    // not_before is a retry's time after a failed attempt of this run, else a schedule's.
    const bool retrying = j.attempt > j.first_attempt;
    if (j.status == job_status::queued && j.not_before != 0 && retrying) doc.time("nextAttemptAt", j.not_before);
    if (j.not_before != 0 && !retrying) doc.time("scheduledFor", j.not_before);
    if (auto error = job_error_object(j, base_url); !error.is_null()) doc.raw("error", json_text(error));
    if (j.status == job_status::succeeded) doc.str("resourceLocation", urls.result);
    doc.end();
    return out;
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
    const unix_ms now = now_unix_ms();
    if ((j.status == job_status::queued || j.status == job_status::scheduled) && j.not_before > now) {
        // Nothing changes before it is due (its next attempt, or its scheduled time).
        return static_cast<int>(std::min<int64_t>((j.not_before - now + 999) / 1000, 24 * 3600));
    }
    const int64_t age_s = std::max<int64_t>(0, (now - j.created_at) / 1000);
    if (age_s < 10) return 1;
    if (age_s < 60) return 2;
    if (age_s < 300) return 5;
    if (age_s < 1800) return 15;
    return 30;
}

}  // namespace ticketd
