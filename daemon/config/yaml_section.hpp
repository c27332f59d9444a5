// Reading ticketd's YAML files strictly: a mapping whose keys are checked as they are read
// (unknown ones are errors), typed values with units and ranges, and errors that name
// file:line:column, what was expected and the fix. Only config/ and auth/keys_file.cpp include it.
#pragma once

#include "config/config.hpp"

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>

namespace ticketd {

// A mapping being read: remembers which keys were used so that unknown ones are errors.
class section {
   public:
    section(const YAML::Node& node, std::string file, std::string path)
        : node_(node), file_(std::move(file)), path_(std::move(path)) {
        if (node_ && !node_.IsNull() && !node_.IsMap()) {
            fail(node_, "expected a mapping (key: value lines) for '" + display_path() + "'",
                 "indent the keys of '" + display_path() + "' under it");
        }
    }

    [[noreturn]] void fail(const YAML::Node& at, const std::string& what,
                           const std::string& fix) const {
        const auto mark = at.Mark();
        std::ostringstream out;
        out << file_ << ":" << (mark.line + 1) << ":" << (mark.column + 1) << ": " << what
            << "; fix: " << fix;
        throw config_error(out.str());
    }

    std::optional<YAML::Node> get(const std::string& key) {
        known_.insert(key);
        if (!node_ || !node_.IsMap()) return std::nullopt;
        auto value = node_[key];
        if (!value || value.IsNull()) return std::nullopt;
        return value;
    }

    std::string string(const std::string& key, std::string fallback) {
        auto v = get(key);
        if (!v) return fallback;
        if (!v->IsScalar()) fail(*v, "'" + where(key) + "' must be a string", "write a single value");
        return v->Scalar();
    }

    bool boolean(const std::string& key, bool fallback) {
        auto v = get(key);
        if (!v) return fallback;
        const std::string s = v->IsScalar() ? v->Scalar() : "";
        if (s == "true") return true;
        if (s == "false") return false;
        fail(*v, "'" + where(key) + "' must be true or false, found '" + s + "'",
             "write true or false");
    }

    double decimal(const std::string& key, double fallback, double min, double max) {
        auto v = get(key);
        if (!v) return fallback;
        const std::string s = v->IsScalar() ? v->Scalar() : "";
        double out = 0;
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
        if (ec != std::errc() || ptr != s.data() + s.size() || !(out >= min && out <= max)) {
            std::ostringstream range;
            range << min << " and " << max;
            fail(*v, "'" + where(key) + "' must be a number between " + range.str() + ", found '" + s + "'",
                 "write a number such as " + std::to_string(fallback).substr(0, 3));
        }
        return out;
    }

    uint64_t integer(const std::string& key, uint64_t fallback, uint64_t min, uint64_t max) {
        auto v = get(key);
        if (!v) return fallback;
        const std::string s = v->IsScalar() ? v->Scalar() : "";
        uint64_t out = 0;
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
        if (ec != std::errc() || ptr != s.data() + s.size()) {
            fail(*v, "'" + where(key) + "' must be a whole number, found '" + s + "'",
                 "write a number such as " + std::to_string(fallback));
        }
        check_range(*v, key, out, min, max, std::to_string(min), std::to_string(max));
        return out;
    }

    milliseconds duration(const std::string& key, milliseconds fallback, milliseconds min,
                          milliseconds max) {
        auto v = get(key);
        if (!v) return fallback;
        milliseconds out{};
        try {
            out = parse_duration(v->IsScalar() ? v->Scalar() : "");
        } catch (const config_error& e) {
            fail(*v, "'" + where(key) + "': " + e.what(),
                 "write a number with a unit: ms, s, m, h or d (e.g. 30s)");
        }
        if (out < min || out > max) {
            fail(*v, "'" + where(key) + "' must be between " + std::to_string(min.count()) +
                         "ms and " + std::to_string(max.count()) + "ms",
                 "choose a value in that range");
        }
        return out;
    }

    uint64_t size(const std::string& key, uint64_t fallback, uint64_t min, uint64_t max) {
        auto v = get(key);
        if (!v) return fallback;
        uint64_t out = 0;
        try {
            out = parse_size(v->IsScalar() ? v->Scalar() : "");
        } catch (const config_error& e) {
            fail(*v, "'" + where(key) + "': " + e.what(),
                 "write bytes with a unit: B, KiB, MiB, GiB, kB, MB, GB (e.g. 1MiB)");
        }
        check_range(*v, key, out, min, max, std::to_string(min) + " bytes",
                    std::to_string(max) + " bytes");
        return out;
    }

    section child(const std::string& key) {
        auto v = get(key);
        return section(v ? *v : YAML::Node(), file_, where(key));
    }

    // Every key present must have been asked for.
    void finish() const {
        if (!node_ || !node_.IsMap()) return;
        for (const auto& kv : node_) {
            const std::string key = kv.first.Scalar();
            if (!known_.contains(key)) {
                std::string expected;
                for (const auto& k : known_) expected += (expected.empty() ? "" : ", ") + k;
                fail(kv.first, "unknown key '" + where(key) + "'",
                     "remove it or use one of: " + expected);
            }
        }
    }

    const YAML::Node& node() const { return node_; }
    const std::string& file() const { return file_; }

   private:
    std::string where(const std::string& key) const {
        return path_.empty() ? key : path_ + "." + key;
    }
    std::string display_path() const { return path_.empty() ? "(top level)" : path_; }
    void check_range(const YAML::Node& at, const std::string& key, uint64_t v, uint64_t min,
                     uint64_t max, const std::string& min_text, const std::string& max_text) const {
        if (v < min || v > max) {
            fail(at, "'" + where(key) + "' must be between " + min_text + " and " + max_text,
                 "choose a value in that range");
        }
    }

    YAML::Node node_;
    std::string file_;
    std::string path_;
    std::set<std::string> known_;
};

inline YAML::Node load_yaml(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) {
        throw config_error(file.string() + ": cannot open the file; fix: check the path given " +
                           "with --config and its permissions");
    }
    try {
        return YAML::Load(in);
    } catch (const YAML::Exception& e) {
        std::ostringstream out;
        out << file.string() << ":" << (e.mark.line + 1) << ":" << (e.mark.column + 1)
            << ": invalid YAML: " << e.msg << "; fix: correct the syntax at that position";
        throw config_error(out.str());
    }
}

// The quotas: section (config/quotas_config.cpp).
quotas_config load_quotas(section& quotas);
// A job type's `schedules:` (config/schedules_config.cpp).
std::vector<schedule_config> load_schedules(section& top);
// YAML as JSON: plain scalars become numbers, booleans and null where they read as such,
// quoted ones stay strings (config.cpp).
nlohmann::json yaml_to_json(const YAML::Node& node);

// A job type's `retry:` section, or its shorthand `max_attempts` and `retry_backoff` in
// `top` (not both), into `policy` (config/retry_config.cpp).
void load_retry(section& top, retry_policy& policy);

}  // namespace ticketd
