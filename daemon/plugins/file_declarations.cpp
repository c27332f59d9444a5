#include "plugins/file_declarations.hpp"

#include "system/media_type.hpp"

#include <nlohmann/json.hpp>

namespace ticketd {

namespace {
constexpr size_t max_files = 32;  // as many as a submit may name
constexpr size_t max_media_types = 32;
constexpr size_t max_description = 1024;

// type/sub, type/* or */*, without parameters.
bool is_pattern(const std::string& t) {
    if (t == "*/*") return true;
    const std::string concrete = t.ends_with("/*") ? t.substr(0, t.size() - 1) + "x" : t;
    return concrete.find(';') == std::string::npos && is_media_type(concrete);
}

[[noreturn]] void refuse(const std::string& pointer, const std::string& rule) {
    throw std::invalid_argument(pointer + ": " + rule);
}
}  // namespace

declared_files parse_file_declarations(std::string_view json_text) {
    // Depth 3 is all a declaration has: deeper text is refused while it is parsed.
    int depth = 0;
    const auto bounded = [&depth](int, nlohmann::json::parse_event_t event, nlohmann::json&) {
        using event_t = nlohmann::json::parse_event_t;
        if (event == event_t::object_start || event == event_t::array_start) {
            if (++depth > 3) throw std::invalid_argument("the declaration nests deeper than 3 levels");
        } else if (event == event_t::object_end || event == event_t::array_end) {
            --depth;
        }
        return true;
    };
    const auto json = nlohmann::json::parse(json_text, bounded, false);
    if (json.is_discarded()) refuse("", "not JSON");
    if (!json.is_object()) refuse("", "must be an object of file names");
    if (json.size() > max_files) refuse("", "at most " + std::to_string(max_files) + " files");
    declared_files out;
    for (const auto& [name, spec] : json.items()) {
        const std::string at = "/" + name;
        if (!is_file_name(name)) refuse(at, "file names are 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-'");
        if (!spec.is_object()) refuse(at, "must be an object");
        declared_file f;
        f.name = name;
        for (const auto& [key, value] : spec.items()) {
            if (key == "required") {
                if (!value.is_boolean()) refuse(at + "/required", "must be true or false");
                f.required = value.get<bool>();
            } else if (key == "mediaTypes") {
                if (!value.is_array() || value.empty() || value.size() > max_media_types) {
                    refuse(at + "/mediaTypes",
                           "must be an array of 1-" + std::to_string(max_media_types) + " media types");
                }
                for (const auto& t : value) {
                    if (!t.is_string() || !is_pattern(t.get_ref<const std::string&>())) {
                        refuse(at + "/mediaTypes",
                               "each must be a media type without parameters (type/sub, type/*, */*)");
                    }
                    f.media_types.push_back(t.get<std::string>());
                }
            } else if (key == "maxBytes") {
                if (!value.is_number_unsigned() || value.get<uint64_t>() == 0) {
                    refuse(at + "/maxBytes", "must be a positive integer");
                }
                f.max_bytes = value.get<uint64_t>();
            } else if (key == "description") {
                if (!value.is_string() || value.get_ref<const std::string&>().size() > max_description) {
                    refuse(at + "/description",
                           "must be a string of at most " + std::to_string(max_description) + " bytes");
                }
                f.description = value.get<std::string>();
            } else {
                refuse(at + "/" + key, "unknown member; expected required, mediaTypes, maxBytes, description");
            }
        }
        out.push_back(std::move(f));
    }
    return out;
}

}  // namespace ticketd
