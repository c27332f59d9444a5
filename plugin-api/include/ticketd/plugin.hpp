// ticketd plugin SDK: a header-only C++17 layer over the C ABI in <ticketd/plugin.h>.
//
// A plugin is one class derived from ticketd::handler plus one TICKETD_PLUGIN(...) line.
// The SDK owns the plumbing: every trampoline is noexcept, turns exceptions into job
// failures carrying the exception's message, and keeps the C structs out of sight.
//
//   class hello final : public ticketd::handler {
//    public:
//     explicit hello(std::string_view settings_json) {}
//     void validate(std::string_view input, ticketd::validation& v) override { ... }
//     void run(ticketd::job& job) override { job.set_result("application/json", "{}"); }
//   };
//   TICKETD_PLUGIN(hello, "hello", "1.0.0", "MIT", "Greets", "{}", "{...schema...}")
#pragma once

#include <ticketd/plugin.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ticketd {

// Pass as `ticketd::retry` to job_failed: the failure may pass on another attempt.
struct retry_t {
    explicit constexpr retry_t(int) {}
};
inline constexpr retry_t retry{0};

// Throw from run() to fail the job with a stable code (e.g. "decode-error") and message.
// With `ticketd::retry` the failure is retryable (a database restarting, an upstream's
// 503): the job runs again if its type's retry policy has attempts left, after `after`
// (negative: the type's backoff). A host older than ABI 1.2 fails it for good.
class job_failed : public std::runtime_error {
   public:
    job_failed(std::string code, const std::string& message)
        : std::runtime_error(message), code_(std::move(code)) {}
    job_failed(std::string code, const std::string& message, retry_t,
               std::chrono::milliseconds after = std::chrono::milliseconds(-1))
        : std::runtime_error(message), code_(std::move(code)), retryable_(true), after_(after) {}
    const std::string& code() const noexcept { return code_; }
    bool retryable() const noexcept { return retryable_; }
    std::chrono::milliseconds retry_after() const noexcept { return after_; }

   private:
    std::string code_;
    bool retryable_ = false;
    std::chrono::milliseconds after_{-1};
};

// Throw from run() (or just return) once job.canceled() is true to end the job canceled.
class job_canceled : public std::exception {
   public:
    const char* what() const noexcept override { return "job canceled"; }
};

namespace detail {
inline const ticketd_host_services*& host() noexcept {
    static const ticketd_host_services* services = nullptr;
    return services;
}
inline std::string_view view(ticketd_string s) noexcept { return {s.data, s.size}; }
}  // namespace detail

enum class log_level { debug = TICKETD_LOG_DEBUG, info, warning, error };

// Logging outside of a job (e.g. from a constructor).
inline void log(log_level level, std::string_view message) noexcept {
    if (auto* h = detail::host()) {
        h->log(nullptr, static_cast<ticketd_log_level>(level), message.data(), message.size());
    }
}

// A Prometheus metric of the plugin's own, exported as ticketd_plugin_<name>_<metric>
// with a `type` label. Register in the handler's constructor; record from run().
class metric {
   public:
    metric() = default;
    void record(double value) const noexcept {
        if (m_) detail::host()->metric_record(m_, value);
    }

   private:
    friend metric register_metric(ticketd_metric_kind, std::string_view, std::string_view,
                                  const std::vector<double>&);
    explicit metric(ticketd_metric* m) : m_(m) {}
    ticketd_metric* m_ = nullptr;
};

inline metric register_metric(ticketd_metric_kind kind, std::string_view name, std::string_view help,
                              const std::vector<double>& buckets = {}) {
    return metric(detail::host()->metric_register(kind, name.data(), name.size(), help.data(), help.size(),
                                                  buckets.data(), buckets.size()));
}
// counter("bytes_processed_total", "..."): record(n) adds n.
inline metric counter(std::string_view name, std::string_view help) {
    return register_metric(TICKETD_METRIC_COUNTER, name, help);
}
// gauge("cache_entries", "..."): record(v) sets v.
inline metric gauge(std::string_view name, std::string_view help) {
    return register_metric(TICKETD_METRIC_GAUGE, name, help);
}
// histogram("frame_seconds", "...", {0.01, 0.1, 1}): record(v) observes v.
inline metric histogram(std::string_view name, std::string_view help, const std::vector<double>& buckets) {
    return register_metric(TICKETD_METRIC_HISTOGRAM, name, help, buckets);
}

// Collects input validation errors, each at a JSON Pointer into the job's input.
class validation {
   public:
    explicit validation(ticketd_validation* v) noexcept : v_(v) {}
    void add(std::string_view pointer, std::string_view detail) {
        ++count_;
        detail::host()->add_validation_error(v_, pointer.data(), pointer.size(), detail.data(),
                                             detail.size());
    }
    bool ok() const noexcept { return count_ == 0; }

   private:
    ticketd_validation* v_;
    int count_ = 0;
};

// One attempt of one job, as seen by run().
class job {
   public:
    job(ticketd_job* j, std::string_view input) noexcept : j_(j), input_(input) {}

    std::string_view input() const noexcept { return input_; }
    std::string_view id() const noexcept { return detail::view(host().job_id(j_)); }
    unsigned attempt() const noexcept { return host().attempt(j_); }
    bool canceled() const noexcept { return host().is_canceled(j_) != 0; }
    // Throws job_canceled when cancellation was requested: a convenient check point.
    void check_canceled() const {
        if (canceled()) throw job_canceled();
    }
    // Time left before the attempt's deadline (max() when there is none).
    std::chrono::milliseconds time_left() const noexcept {
        const int64_t deadline = host().deadline_unix_ms(j_);
        if (deadline == 0) return std::chrono::milliseconds::max();
        const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch());
        return std::chrono::milliseconds(deadline) - now;
    }
    std::string_view scratch_dir() const noexcept { return detail::view(host().scratch_dir(j_)); }
    std::string_view input_file(std::string_view name) const noexcept {
        return detail::view(host().input_file(j_, name.data(), name.size()));
    }
    void progress(double percent, std::string_view message = {}) noexcept {
        host().progress(j_, percent, message.data(), message.size());
    }
    void log(log_level level, std::string_view message) const noexcept {
        host().log(j_, static_cast<ticketd_log_level>(level), message.data(), message.size());
    }
    void set_result(std::string_view content_type, std::string_view bytes) {
        if (host().set_result(j_, content_type.data(), content_type.size(), bytes.data(),
                              bytes.size()) != 0) {
            throw job_failed("result-rejected", "the host refused the result");
        }
        has_result_ = true;
    }
    // For large results: the path to write the result file to. The file becomes the
    // job's result when run() returns normally.
    std::string result_file(std::string_view content_type) {
        has_result_ = true;
        return std::string(detail::view(host().result_file(j_, content_type.data(), content_type.size())));
    }
    bool has_result() const noexcept { return has_result_; }
    // Fails this attempt retryably, asking for the next one after `after` (at most 24 h):
    // e.g. job.retry_after("rate-limited", "the API said 429", std::chrono::seconds(30)).
    [[noreturn]] void retry_after(std::string code, const std::string& message, std::chrono::milliseconds after) const {
        throw job_failed(std::move(code), message, retry, after);
    }
    // The result's file name for download (Content-Disposition), e.g. "sales.csv".
    // Returns false on a host older than ABI 1.1, which cannot carry it.
    bool set_result_name(std::string_view name) {
        const auto& h = host();
        if (h.struct_size < offsetof(ticketd_host_services, set_result_name) + sizeof(h.set_result_name) ||
            h.set_result_name == nullptr) {
            return false;
        }
        return h.set_result_name(j_, name.data(), name.size()) == 0;
    }

   private:
    static const ticketd_host_services& host() noexcept { return *detail::host(); }
    ticketd_job* j_;
    std::string_view input_;
    bool has_result_ = false;
};

// Base class of a job-type handler. One instance per job type; run() is called
// concurrently from the type's worker threads, so keep per-job state on the stack.
class handler {
   public:
    virtual ~handler() = default;
    // Check a job's input before it is accepted: fast, no I/O. Default: accept all.
    virtual void validate(std::string_view input_json, validation& v) {
        (void)input_json;
        (void)v;
    }
    // Do the work. Return normally after set_result(); throw job_failed to fail.
    virtual void run(job& j) = 0;
};

namespace detail {

inline void copy_error(const char* message, char* out, size_t out_size) noexcept {
    if (out == nullptr || out_size == 0) return;
    const size_t n = std::min(std::strlen(message), out_size - 1);
    std::memcpy(out, message, n);
    out[n] = '\0';
}

inline void fail(ticketd_job* j, std::string_view code, std::string_view message) noexcept {
    host()->fail(j, code.data(), code.size(), message.data(), message.size());
}

inline void fail(ticketd_job* j, const job_failed& e) noexcept {
    const auto* h = host();
    const bool has_retry = h->struct_size >= offsetof(ticketd_host_services, fail_retryable) +
                                                 sizeof(h->fail_retryable) &&
                           h->fail_retryable != nullptr;
    if (!e.retryable() || !has_retry) return fail(j, e.code(), e.what());
    const std::string_view message = e.what();
    h->fail_retryable(j, e.code().data(), e.code().size(), message.data(), message.size(),
                      static_cast<int64_t>(e.retry_after().count()));
}

template <class Handler>
struct glue {
    static ticketd_instance* create(const char* settings, size_t size, char* error,
                                    size_t error_size) noexcept {
        try {
            return reinterpret_cast<ticketd_instance*>(
                new Handler(std::string_view(settings, size)));
        } catch (const std::exception& e) {
            copy_error(e.what(), error, error_size);
        } catch (...) {
            copy_error("unknown exception in the handler's constructor", error, error_size);
        }
        return nullptr;
    }
    static int validate(ticketd_instance* instance, const char* input, size_t size,
                        ticketd_validation* v) noexcept {
        validation errors(v);
        try {
            as_handler(instance)->validate(std::string_view(input, size), errors);
        } catch (const std::exception& e) {
            errors.add("", e.what());
        } catch (...) {
            errors.add("", "unknown exception while validating the input");
        }
        return errors.ok() ? 0 : 1;
    }
    static ticketd_run_status run(ticketd_instance* instance, ticketd_job* j, const char* input,
                                  size_t size) noexcept {
        job context(j, std::string_view(input, size));
        try {
            as_handler(instance)->run(context);
            if (!context.has_result() && context.canceled()) return TICKETD_RUN_CANCELED;
            return TICKETD_RUN_SUCCEEDED;
        } catch (const job_canceled&) {
            return TICKETD_RUN_CANCELED;
        } catch (const job_failed& e) {
            fail(j, e);
        } catch (const std::exception& e) {
            fail(j, "exception", e.what());
        } catch (...) {
            fail(j, "exception", "unknown exception");
        }
        return TICKETD_RUN_FAILED;
    }
    static void destroy(ticketd_instance* instance) noexcept { delete as_handler(instance); }
    static Handler* as_handler(ticketd_instance* instance) noexcept {
        return reinterpret_cast<Handler*>(instance);
    }
};

}  // namespace detail
}  // namespace ticketd

// Exports a handler class as the plugin's single entry point.
#define TICKETD_PLUGIN(HandlerClass, name, version, license, description, settings_schema,  \
                       input_schema)                                                        \
    TICKETD_PLUGIN_WITH_FILES(HandlerClass, name, version, license, description,            \
                              settings_schema, input_schema, "")

// The same, declaring the files its jobs read (JSON, see `files` in <ticketd/plugin.h>):
//   TICKETD_PLUGIN_WITH_FILES(importer, ..., input_schema,
//       R"({"source": {"required": true, "mediaTypes": ["text/csv"]}})")
#define TICKETD_PLUGIN_WITH_FILES(HandlerClass, name, version, license, description,        \
                                  settings_schema, input_schema, files)                     \
    extern "C" TICKETD_PLUGIN_EXPORT const ticketd_plugin_descriptor* ticketd_plugin_v1(    \
        const ticketd_host_services* host) {                                                \
        using glue_t = ::ticketd::detail::glue<HandlerClass>;                               \
        static const ticketd_plugin_descriptor descriptor = {                               \
            TICKETD_PLUGIN_MAGIC,                                                           \
            sizeof(ticketd_plugin_descriptor),                                              \
            TICKETD_PLUGIN_ABI_MAJOR,                                                       \
            TICKETD_PLUGIN_ABI_MINOR,                                                       \
            0,                                                                              \
            name,                                                                           \
            version,                                                                        \
            license,                                                                        \
            description,                                                                    \
            settings_schema,                                                                \
            input_schema,                                                                   \
            &glue_t::create,                                                                \
            &glue_t::validate,                                                              \
            &glue_t::run,                                                                   \
            &glue_t::destroy,                                                               \
            files,                                                                          \
        };                                                                                  \
        ::ticketd::detail::host() = host;                                                   \
        return &descriptor;                                                                 \
    }
