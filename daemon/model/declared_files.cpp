#include "model/declared_files.hpp"

#include "system/media_type.hpp"

#include <algorithm>
#include <cctype>

namespace ticketd {

namespace {
const declared_file* find(const declared_files& declared, const std::string& name) {
    const auto it = std::find_if(declared.begin(), declared.end(), [&](const auto& d) { return d.name == name; });
    return it == declared.end() ? nullptr : &*it;
}

std::string joined(const std::vector<std::string>& items, const char* last) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += i + 1 == items.size() ? last : ", ";
        out += items[i];
    }
    return out;
}
}  // namespace

bool is_file_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    return std::all_of(name.begin(), name.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-';
    });
}

std::vector<validation_error> check_file_names(const declared_files& declared, const job_files& files,
                                               const std::string& type) {
    std::vector<validation_error> errors;
    for (const auto& d : declared) {
        if (d.required && !files.contains(d.name)) {
            errors.push_back({"/files/" + d.name, "job type '" + type + "' requires the file '" + d.name +
                                                      "'; upload it (POST /v1/uploads) and name it in files"});
        }
    }
    for (const auto& [name, upload] : files) {
        if (find(declared, name) != nullptr) continue;
        std::vector<std::string> names;
        for (const auto& d : declared) names.push_back("'" + d.name + "'");
        errors.push_back({"/files/" + name, "job type '" + type + "' reads no file '" + name + "'" +
                                                (names.empty() ? "; it reads none"
                                                               : "; it reads " + joined(names, " and "))});
    }
    return errors;
}

std::optional<std::string> check_upload(const declared_files& declared, const std::string& name,
                                        const upload_record& upload) {
    const declared_file* d = find(declared, name);
    if (d == nullptr) return std::nullopt;  // check_file_names refused it already
    if (!d->media_types.empty() &&
        std::none_of(d->media_types.begin(), d->media_types.end(),
                     [&](const auto& pattern) { return media_type_matches(upload.content_type, pattern); })) {
        const std::string type = upload.content_type.empty() ? "of no media type" : upload.content_type;
        return "upload '" + upload.id + "' is " + type +
               "; the file '" + name + "' must be " + joined(d->media_types, " or ");
    }
    if (d->max_bytes > 0 && upload.size > d->max_bytes) {
        return "upload '" + upload.id + "' is " + std::to_string(upload.size) + " bytes; the file '" + name +
               "' may be at most " + std::to_string(d->max_bytes);
    }
    return std::nullopt;
}

}  // namespace ticketd
