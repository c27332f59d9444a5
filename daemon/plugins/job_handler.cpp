#include "plugins/job_handler.hpp"

#include "plugins/host_services.hpp"
#include "plugins/json_schema.hpp"

namespace ticketd {

job_handler::job_handler(std::shared_ptr<plugin_library> library, const std::string& settings_json,
                         plugin_metric_registrar* metrics)
    : library_(std::move(library)) {
    if (const auto* schema = library_->settings_schema()) {
        const auto settings = nlohmann::json::parse(settings_json, nullptr, false);
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
    char error[1024] = {0};
    {
        const metric_registration registering(metrics, library_->descriptor().name, metrics_);
        instance_ = library_->descriptor().create(settings_json.data(), settings_json.size(), error, sizeof error);
    }
    if (instance_ == nullptr) {
        // What the plugin said (an SDK plugin: what its constructor threw): about the
        // settings, or about anything else it needs (a file, a connection, its environment).
        throw plugin_error(library_->file().string() + ": expected create() to start the job type, found it failed: " +
                           (error[0] ? error : "(no message)") +
                           "; fix: what the plugin said above (if it is about the settings, correct the job type's "
                           "'settings'; otherwise see the plugin's documentation)");
    }
}

job_handler::~job_handler() {
    if (instance_ != nullptr) library_->descriptor().destroy(instance_);
}

std::vector<validation_error> job_handler::validate(std::string_view input_json) const {
    ticketd_validation v;
    if (const auto* schema = library_->input_schema()) {
        // Parsed again only for a type with a schema: api/ checked the text, and the plugin
        // itself takes text.
        const auto input = nlohmann::json::parse(input_json, nullptr, false);
        if (input.is_discarded()) return {{"", "the input is not JSON"}};
        for (auto& violation : schema->validate(input)) v.errors.push_back({violation.pointer, violation.detail});
        if (!v.errors.empty()) return std::move(v.errors);
    }
    const int rc = library_->descriptor().validate(instance_, input_json.data(), input_json.size(), &v);
    if (rc != 0 && v.errors.empty()) v.errors.push_back({"", "the plugin rejected the input"});
    return std::move(v.errors);
}

ticketd_run_status job_handler::run(job_context& context, const std::string& input_json) const {
    return library_->descriptor().run(instance_, reinterpret_cast<ticketd_job*>(&context),
                                      input_json.data(), input_json.size());
}

}  // namespace ticketd
