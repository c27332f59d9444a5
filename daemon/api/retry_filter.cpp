#include "api/retry_filter.hpp"

#include "system/time.hpp"

#include <algorithm>

namespace ticketd {

namespace {

constexpr unsigned default_limit = 100;

}  // namespace

std::optional<filter_error> read_retry_filter(const nlohmann::json& body, const caller& who, unsigned max_limit,
                                              job_query& q) {
    q.statuses = {job_status::failed};
    q.limit = std::min(default_limit, max_limit);
    for (const auto& [name, value] : body.items()) {
        if (name == "status") {
            const auto statuses = value.is_array() ? value : nlohmann::json::array({value});
            q.statuses.clear();
            for (const auto& s : statuses) {
                const auto st = s.is_string() ? parse_job_status(s.get<std::string>()) : std::nullopt;
                if (!st || (*st != job_status::failed && *st != job_status::canceled)) {
                    return filter_error{"/status", "failed, canceled, or a list of them"};
                }
                q.statuses.push_back(*st);
            }
            if (q.statuses.empty()) return filter_error{"/status", "failed, canceled, or a list of them"};
        } else if (name == "type" || name == "code" || name == "principal") {
            if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
                return filter_error{"/" + name, "a non-empty string"};
            }
            const auto& text = value.get_ref<const std::string&>();
            if (name == "type") q.type = text;
            else if (name == "code") q.error_code = text;
            else if (text != who.principal && !who.every_principal) return filter_error{"/principal", "forbidden"};
            else q.principal = text;
        } else if (name == "createdAfter" || name == "createdBefore") {
            const auto t = value.is_string() ? parse_rfc3339(value.get<std::string>()) : std::nullopt;
            if (!t) return filter_error{"/" + name, "an RFC 3339 time, e.g. 2026-01-31T12:00:00Z"};
            (name == "createdAfter" ? q.created_after : q.created_before) = *t;
        } else if (name == "limit") {
            if (!value.is_number_unsigned() || value.get<uint64_t>() < 1 || value.get<uint64_t>() > max_limit) {
                return filter_error{"/limit", "a whole number from 1 to " + std::to_string(max_limit)};
            }
            q.limit = value.get<unsigned>();
        } else {
            return filter_error{"/" + name,
                                "unknown member; use status, type, code, principal, createdAfter, createdBefore, limit"};
        }
    }
    if (!q.principal && !who.every_principal) q.principal = who.principal;
    return std::nullopt;
}

}  // namespace ticketd
