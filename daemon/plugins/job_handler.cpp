#include "plugins/job_handler.hpp"

#include "api/request_headers.hpp"
#include "plugins/elf_file.hpp"

#include "system/log.hpp"
#include "system/utf8.hpp"

#include <boost/dll/library_info.hpp>
#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cstdio>
#include <tuple>

struct ticketd_validation {
    std::vector<ticketd::validation_error> errors;
};

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
}

void host_add_validation_error(ticketd_validation* v, const char* pointer, size_t pointer_size,
                               const char* detail, size_t detail_size) {
    v->errors.push_back({text(pointer, pointer_size), text(detail, detail_size)});
}

// The handler whose create() is running on this thread: metric_register needs it.
struct registration {
    plugin_metric_registrar* registrar = nullptr;
    std::vector<std::unique_ptr<ticketd_metric>>* metrics = nullptr;
    std::string plugin;
};
thread_local registration* current_registration = nullptr;

ticketd_metric* host_metric_register(ticketd_metric_kind kind, const char* name, size_t name_size,
                                     const char* help, size_t help_size, const double* buckets,
                                     size_t bucket_count) {
    static ticketd_metric refused;  // records nothing
    auto* r = current_registration;
    if (r == nullptr) {
        log_error("plugin: metric_register('" + text(name, name_size) + "') called outside create(); ignored");
        return &refused;
    }
    if (r->registrar == nullptr) return &refused;  // e.g. --check-plugin
    std::string error;
    auto record = r->registrar->add(kind, text(name, name_size), text(help, help_size),
                                    std::vector<double>(buckets, buckets + bucket_count), error);
    if (!record) {
        log_error("plugin " + r->plugin + ": metric '" + text(name, name_size) + "' refused: " + error);
        return &refused;
    }
    r->metrics->push_back(std::make_unique<ticketd_metric>(ticketd_metric{std::move(record)}));
    return r->metrics->back().get();
}

void host_metric_record(ticketd_metric* metric, double value) {
    if (metric != nullptr && metric->record && value == value) metric->record(value);
}

const ticketd_host_services host_services = {
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
};

[[noreturn]] void reject(const std::filesystem::path& file, const std::string& expected,
                         const std::string& found, const std::string& fix) {
    throw plugin_error(file.string() + ": expected " + expected + ", found " + found + "; fix: " + fix);
}

}  // namespace

struct plugin_library::impl {
    boost::dll::shared_library library;
};

plugin_library::~plugin_library() = default;

std::shared_ptr<plugin_library> plugin_library::load(const std::filesystem::path& file) {
    if (!std::filesystem::is_regular_file(file)) {
        reject(file, "a plugin file", "no such file",
               "build the plugin or correct 'plugin:' / 'plugin_dir'");
    }
    if (std::string error; !elf_sections_in_bounds(file, error)) {
        reject(file, "an ELF shared object", error, "point 'plugin:' at a .so built with ticketd_add_plugin()");
    }
    try {
        boost::dll::library_info info(file);
        const auto symbols = info.symbols();
        if (std::find(symbols.begin(), symbols.end(), TICKETD_PLUGIN_ENTRY_SYMBOL) == symbols.end()) {
            reject(file, "an exported symbol " TICKETD_PLUGIN_ENTRY_SYMBOL,
                   "none (not a ticketd v1 plugin)",
                   "export it with TICKETD_PLUGIN(...) from <ticketd/plugin.hpp>");
        }
    } catch (const plugin_error&) {
        throw;
    } catch (const std::exception& e) {
        reject(file, "an ELF shared object", std::string("an unreadable file (") + e.what() + ")",
               "point 'plugin:' at a .so built with ticketd_add_plugin()");
    }

    std::string elf_error;
    const auto exec_stack = wants_executable_stack(file, elf_error);
    if (!exec_stack) {
        reject(file, "a 64-bit ELF shared object", elf_error, "point 'plugin:' at a .so built with ticketd_add_plugin()");
    }
    if (*exec_stack) {
        reject(file, "a non-executable stack (PT_GNU_STACK without PF_X)", "an executable stack",
               "link with -Wl,-z,noexecstack (ticketd_add_plugin does) and check assembly files for .note.GNU-stack");
    }

    std::shared_ptr<plugin_library> lib(new plugin_library());
    lib->file_ = file;
    lib->impl_ = std::make_unique<impl>();
    try {
        lib->impl_->library.load(file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    } catch (const std::exception& e) {
        // Boost wraps dlerror()'s text; keep just that, it says what is missing.
        std::string text = e.what();
        static constexpr std::string_view marker = "dlerror system message: ";
        if (const auto at = text.find(marker); at != std::string::npos) {
            text = text.substr(at + marker.size());
            if (const auto close = text.rfind(')'); close != std::string::npos) text.resize(close);
        }
        reject(file, "a library dlopen() can load (RTLD_NOW)", "\"" + text + "\"",
               "install the libraries it needs or link them with an rpath, and define every symbol it uses "
               "(ticketd_add_plugin links with -z defs to catch those at build time)");
    }
    auto entry = lib->impl_->library.get<const ticketd_plugin_descriptor*(const ticketd_host_services*)>(
        TICKETD_PLUGIN_ENTRY_SYMBOL);
    const ticketd_plugin_descriptor* d = entry(&host_services);
    if (d == nullptr) reject(file, "a descriptor", "a null pointer", "return the descriptor from the entry point");
    if (d->magic != TICKETD_PLUGIN_MAGIC) {
        char found[16];
        std::snprintf(found, sizeof found, "0x%08X", d->magic);
        reject(file, "descriptor magic 0x4454544B", found,
               "build the plugin with <ticketd/plugin.h> and TICKETD_PLUGIN(...)");
    }
    if (d->abi_major != TICKETD_PLUGIN_ABI_MAJOR) {
        reject(file, "ABI major " + std::to_string(TICKETD_PLUGIN_ABI_MAJOR),
               "ABI major " + std::to_string(d->abi_major),
               "rebuild the plugin against this ticketd's plugin SDK");
    }
    if (d->abi_minor > TICKETD_PLUGIN_ABI_MINOR) {
        reject(file, "ABI minor <= " + std::to_string(TICKETD_PLUGIN_ABI_MINOR),
               "ABI minor " + std::to_string(d->abi_minor),
               "upgrade ticketd, or build the plugin against an older SDK");
    }
    if (d->struct_size < sizeof(ticketd_plugin_descriptor)) {
        reject(file, "a descriptor of at least " + std::to_string(sizeof(ticketd_plugin_descriptor)) + " bytes",
               std::to_string(d->struct_size) + " bytes", "rebuild the plugin against the current SDK");
    }
    if (d->name == nullptr || d->name[0] == '\0') {
        reject(file, "a plugin name", "an empty name", "pass a name to TICKETD_PLUGIN(...)");
    }
    for (const auto& [name, present] : {std::pair{"create", d->create != nullptr}, {"validate", d->validate != nullptr},
                                        {"run", d->run != nullptr}, {"destroy", d->destroy != nullptr}}) {
        if (!present) {
            reject(file, std::string("a ") + name + "() function in the descriptor", std::string(name) + " = NULL",
                   "use TICKETD_PLUGIN(...), which fills them all");
        }
    }
    // The schemas must be valid and use only what ticketd's validator supports.
    for (auto [text, slot, what] : {std::tuple{d->settings_schema, &lib->settings_schema_, "settings"},
                                    std::tuple{d->input_schema, &lib->input_schema_, "input"}}) {
        if (text == nullptr || *text == '\0') continue;
        const auto json = nlohmann::json::parse(text, nullptr, false);
        if (json.is_discarded()) {
            reject(file, std::string("a JSON ") + what + " schema", "text that is not JSON",
                   "fix the schema string passed to TICKETD_PLUGIN(...)");
        }
        try {
            *slot = std::make_unique<json_schema>(json);
        } catch (const schema_error& e) {
            reject(file, std::string("a draft-07 JSON Schema for ") + what, e.what(),
                   "use the keywords listed in docs/writing-a-plugin.md");
        }
    }
    lib->descriptor_ = d;
    return lib;
}

job_handler::job_handler(std::shared_ptr<plugin_library> library, const nlohmann::json& settings,
                         plugin_metric_registrar* metrics)
    : library_(std::move(library)) {
    if (const auto* schema = library_->settings_schema()) {
        const auto violations = schema->validate(settings);
        if (!violations.empty()) {
            std::string found;
            for (const auto& v : violations) {
                found += (found.empty() ? "" : "; ") + std::string("settings") + v.pointer + " " + v.detail;
            }
            throw plugin_error(library_->file().string() + ": expected settings matching the plugin's schema, found " +
                               found + "; fix: correct the job type's 'settings' (ticketd --check-plugin " +
                               library_->file().filename().string() + " prints the schema)");
        }
    }
    const std::string json = settings.dump();
    char error[1024] = {0};
    registration reg{metrics, &metrics_, library_->descriptor().name};
    current_registration = &reg;
    instance_ = library_->descriptor().create(json.data(), json.size(), error, sizeof error);
    current_registration = nullptr;
    if (instance_ == nullptr) {
        throw plugin_error(library_->file().string() + ": expected create() to accept the settings, found: " +
                           (error[0] ? error : "it failed without a message") +
                           "; fix: correct the job type's 'settings'");
    }
}

job_handler::~job_handler() {
    if (instance_ != nullptr) library_->descriptor().destroy(instance_);
}

std::vector<validation_error> job_handler::validate(const nlohmann::json& input) const {
    ticketd_validation v;
    if (const auto* schema = library_->input_schema()) {
        for (auto& violation : schema->validate(input)) v.errors.push_back({violation.pointer, violation.detail});
        if (!v.errors.empty()) return std::move(v.errors);
    }
    const std::string input_json = input.dump();
    const int rc = library_->descriptor().validate(instance_, input_json.data(), input_json.size(), &v);
    if (rc != 0 && v.errors.empty()) v.errors.push_back({"", "the plugin rejected the input"});
    return std::move(v.errors);
}

ticketd_run_status job_handler::run(job_context& context, const std::string& input_json) const {
    return library_->descriptor().run(instance_, reinterpret_cast<ticketd_job*>(&context),
                                      input_json.data(), input_json.size());
}

}  // namespace ticketd
