#include "plugins/host_services.hpp"

#include "model/retry_policy.hpp"
#include "plugins/job_context.hpp"
#include "system/log.hpp"
#include "system/media_type.hpp"
#include "system/utf8.hpp"

#include <algorithm>
#include <cctype>

namespace ticketd {

namespace {

job_context& ctx(const ticketd_job* j) {
    return *reinterpret_cast<job_context*>(const_cast<ticketd_job*>(j));
}

// Text a plugin hands over, as valid UTF-8: it ends up in JSON documents, problems and
// logs, so a malformed byte sequence becomes U+FFFD instead of breaking them.
std::string text(const char* p, size_t n) { return p == nullptr ? std::string() : valid_utf8({p, n}); }

// A media type as it may go into a Content-Type header; anything else (say, with a line
// break) becomes application/octet-stream.
std::string media_type(const char* p, size_t n) {
    std::string t = p ? std::string(p, n) : std::string();
    const bool ok = is_media_type(t);
    if (!ok && !t.empty()) log_warning("plugin: result media type refused (not type/subtype in visible ASCII)");
    return ok ? t : "application/octet-stream";
}

// An error code as it goes into "<type>/<code>" and a problem type URL: [a-z0-9-].
std::string error_code(const char* p, size_t n) {
    std::string code = text(p, std::min<size_t>(n, 64));
    for (auto& ch : code) {
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')) ch = '-';
    }
    return code;
}

void host_log(const ticketd_job* job, ticketd_log_level level, const char* message, size_t size) {
    if (job != nullptr && ctx(job).on_log) {
        ctx(job).on_log(static_cast<int>(level), std::string_view(message, size));
        return;
    }
    static constexpr log_level levels[] = {log_level::debug, log_level::info, log_level::warning,
                                           log_level::error};
    log_line(levels[std::clamp(static_cast<int>(level), 0, 3)],
             "plugin: " + text(message, size));
}

void host_progress(ticketd_job* job, double percent, const char* message, size_t size) {
    auto& c = ctx(job);
    if (c.on_progress && percent == percent) c.on_progress(std::clamp(percent, 0.0, 100.0), text(message, size));
}

int host_is_canceled(const ticketd_job* job) { return ctx(job).control->stopping() ? 1 : 0; }

int64_t host_deadline(const ticketd_job* job) { return ctx(job).deadline; }

ticketd_string host_job_id(const ticketd_job* job) {
    return {ctx(job).job_id.data(), ctx(job).job_id.size()};
}

uint32_t host_attempt(const ticketd_job* job) { return ctx(job).attempt; }

ticketd_string host_scratch_dir(const ticketd_job* job) {
    auto& c = ctx(job);
    c.make_scratch_dir();
    return {c.scratch_dir.data(), c.scratch_dir.size()};
}

ticketd_string host_input_file(const ticketd_job* job, const char* name, size_t size) {
    const auto& files = ctx(job).input_files;
    auto it = files.find(text(name, size));
    if (it == files.end()) return {"", 0};
    return {it->second.data(), it->second.size()};
}

int host_set_result(ticketd_job* job, const char* content_type, size_t ct_size, const void* data,
                    size_t size) {
    auto& c = ctx(job);
    c.result_type = media_type(content_type, ct_size);
    c.result.assign(static_cast<const char*>(data), size);
    c.result_file.clear();
    c.has_result = true;
    return 0;
}

ticketd_string host_result_file(ticketd_job* job, const char* content_type, size_t ct_size) {
    auto& c = ctx(job);
    c.result_type = media_type(content_type, ct_size);
    c.result.clear();
    c.make_scratch_dir();
    c.result_file = c.scratch_dir + "/.result";
    c.has_result = true;
    return {c.result_file.data(), c.result_file.size()};
}

int host_set_result_name(ticketd_job* job, const char* name, size_t size) {
    auto& c = ctx(job);
    std::string n = text(name, size);
    if (n.empty() || n.size() > 255 || n.find('/') != std::string::npos || n.find('\0') != std::string::npos) {
        return 1;
    }
    c.result_name = std::move(n);
    return 0;
}

void host_fail(ticketd_job* job, const char* code, size_t code_size, const char* message,
               size_t message_size) {
    auto& c = ctx(job);
    c.fail_code = error_code(code, code_size);
    c.fail_message = text(message, message_size);
    c.retryable = false;
    c.retry_after_ms = -1;
}

void host_fail_retryable(ticketd_job* job, const char* code, size_t code_size, const char* message,
                         size_t message_size, int64_t retry_after_ms) {
    host_fail(job, code, code_size, message, message_size);
    auto& c = ctx(job);
    c.retryable = true;
    c.retry_after_ms = retry_after_ms < 0 ? -1 : std::min(retry_after_ms, max_plugin_retry_delay_ms);
}

void host_add_validation_error(ticketd_validation* v, const char* pointer, size_t pointer_size,
                               const char* detail, size_t detail_size) {
    v->errors.push_back({text(pointer, pointer_size), text(detail, detail_size)});
}

// The plugin whose create() is running on this thread: metric_register needs it.
thread_local metric_registration* current_registration = nullptr;

ticketd_metric* host_metric_register(ticketd_metric_kind kind, const char* name, size_t name_size,
                                     const char* help, size_t help_size, const double* buckets,
                                     size_t bucket_count) {
    static ticketd_metric refused;  // records nothing
    auto* r = current_registration;
    if (r == nullptr) {
        log_error("plugin: metric_register('" + text(name, name_size) + "') called outside create(); ignored");
        return &refused;
    }
    return r->add(kind, text(name, name_size), text(help, help_size),
                  std::vector<double>(buckets, buckets + bucket_count));
}

void host_metric_record(ticketd_metric* metric, double value) {
    if (metric != nullptr && metric->record && value == value) metric->record(value);
}

const ticketd_host_services services = {
    sizeof(ticketd_host_services),
    TICKETD_PLUGIN_ABI_MAJOR,
    TICKETD_PLUGIN_ABI_MINOR,
    &host_log,
    &host_progress,
    &host_is_canceled,
    &host_deadline,
    &host_job_id,
    &host_attempt,
    &host_scratch_dir,
    &host_input_file,
    &host_set_result,
    &host_fail,
    &host_add_validation_error,
    &host_result_file,
    &host_metric_register,
    &host_metric_record,
    &host_set_result_name,
    &host_fail_retryable,
};

}  // namespace

const ticketd_host_services& host_services() { return services; }

metric_registration::metric_registration(plugin_metric_registrar* registrar, std::string plugin,
                                         std::vector<std::unique_ptr<ticketd_metric>>& metrics)
    : registrar_(registrar), plugin_(std::move(plugin)), metrics_(metrics) {
    current_registration = this;
}

metric_registration::~metric_registration() { current_registration = nullptr; }

ticketd_metric* metric_registration::add(ticketd_metric_kind kind, const std::string& name, const std::string& help,
                                         const std::vector<double>& buckets) {
    static ticketd_metric refused;  // records nothing
    if (registrar_ == nullptr) return &refused;  // e.g. check-plugin
    std::string error;
    auto record = registrar_->add(kind, name, help, buckets, error);
    if (!record) {
        log_error("plugin " + plugin_ + ": metric '" + name + "' refused: " + error);
        return &refused;
    }
    metrics_.push_back(std::make_unique<ticketd_metric>(ticketd_metric{std::move(record)}));
    return metrics_.back().get();
}

}  // namespace ticketd
