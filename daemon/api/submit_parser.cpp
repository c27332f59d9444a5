#include "api/submit_parser.hpp"

#include "api/client_json.hpp"
#include "model/declared_files.hpp"
#include "system/json_text.hpp"
#include "system/random_id.hpp"
#include "system/sha256.hpp"
#include "system/time.hpp"

#include <algorithm>
#include <cctype>

namespace ticketd {

namespace {

// An integer member within [lo, hi] (hi >= 0). Non-negative numbers arrive unsigned, and
// one past 2^63 must not wrap into range.
bool in_range(const nlohmann::json& v, int64_t lo, int64_t hi) {
    if (v.is_number_unsigned()) {
        const uint64_t u = v.get<uint64_t>();
        return u <= static_cast<uint64_t>(hi) && (lo <= 0 || u >= static_cast<uint64_t>(lo));
    }
    return v.is_number_integer() && v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
}

}  // namespace

submit_body parse_submit_body(std::string_view text, unsigned max_json_depth) {
    submit_body out;
    client_json parsed = parse_client_json(text, max_json_depth);
    out.json = std::move(parsed.value);
    const nlohmann::json& body = out.json;
    if (body.is_discarded() || !body.is_object()) {
        out.detail = text.empty() ? "the body is empty; send a JSON object such as {\"type\": \"hello\"}"
                     : body.is_discarded() ? parsed.detail
                                           : "the body must be a JSON object";
        out.errors.push_back({parsed.pointer, out.detail});
        return out;
    }
    auto& errors = out.errors;
    submit_request& s = out.request;
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
                continue;
            }
            if (value.size() > 32) errors.push_back({"/files", "at most 32 files per job"});
            for (const auto& [file_name, upload] : value.items()) {
                if (!is_file_name(file_name)) {
                    errors.push_back({"/files/" + file_name,
                                      "file names are 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-'"});
                } else if (!upload.is_string() || !is_random_id(upload.get_ref<const std::string&>())) {
                    errors.push_back({"/files/" + file_name, "must be the id of an upload (POST /v1/uploads)"});
                } else {
                    s.files.emplace(file_name, upload.get<std::string>());
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
        } else if (name == "runAt") {
            const auto t = value.is_string() ? parse_rfc3339(value.get_ref<const std::string&>()) : std::nullopt;
            if (!t) errors.push_back({"/runAt", "must be an RFC 3339 time, e.g. 2026-12-31T23:00:00Z"});
            else out.run_at = *t;
        } else if (name == "delaySeconds") {
            if (!in_range(value, 0, 31'536'000)) {
                errors.push_back({"/delaySeconds", "must be a whole number of seconds, 0 to 31536000"});
            } else {
                out.delay_ms = value.get<int64_t>() * 1000;
            }
        } else if (name == "labels") {
            if (!value.is_object() || value.size() > 32) {
                errors.push_back({"/labels", "must be an object of at most 32 string labels"});
                continue;
            }
            for (const auto& [k, v] : value.items()) {
                if (!v.is_string() || k.empty() || k.size() > 63 || v.get_ref<const std::string&>().size() > 255) {
                    errors.push_back({"/labels/" + k, "labels are strings; names 1-63 and values up to 255 characters"});
                }
            }
            s.labels = json_text(value);
        } else {
            errors.push_back({"/" + name,
                              "unknown member; expected type, input, files, priority, timeoutSeconds, labels, runAt "
                              "or delaySeconds"});
        }
    }
    if (!body.contains("type")) errors.push_back({"/type", "is required"});
    if (out.run_at && out.delay_ms) errors.push_back({"/delaySeconds", "give runAt or delaySeconds, not both"});
    if (!errors.empty()) out.detail = "the request body is not valid";
    return out;
}

std::string submit_fingerprint(const submit_body& body, std::vector<std::pair<std::string, std::string>> query) {
    std::erase_if(query, [](const auto& kv) { return kv.first == "wait"; });
    std::sort(query.begin(), query.end());
    std::string material = body.request.type + "\n";
    for (const auto& [k, v] : query) material += k + "=" + v + "&";
    material += "\n" + json_text(body.json);
    return sha256_hex(material);
}

}  // namespace ticketd
