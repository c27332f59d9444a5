#include "auth/scopes.hpp"

#include <algorithm>
#include <array>

namespace ticketd {

namespace {
constexpr std::array names{"jobs:submit", "jobs:read", "jobs:cancel", "uploads:write",
                           "uploads:read", "metrics:read", "admin"};
constexpr std::string_view submit_prefix = "jobs:submit:";

}  // namespace

std::string_view scope_name(scope s) { return names[static_cast<size_t>(s)]; }

scope_set scope_set::all_but_admin() {
    scope_set out;
    out.bits_ = (bit(scope::admin) - 1);
    return out;
}

std::optional<scope_set> scope_set::parse(const std::vector<std::string>& list, std::string& error) {
    scope_set out;
    for (const auto& name : list) {
        if (name.starts_with(submit_prefix)) {
            const std::string type = name.substr(submit_prefix.size());
            if (!is_type_name(type)) {
                error = "'" + name + "' does not name a job type after jobs:submit:";
                return std::nullopt;
            }
            out.submit_types_.push_back(type);
            continue;
        }
        const auto it = std::find(names.begin(), names.end(), std::string_view(name));
        if (it == names.end()) {
            error = "unknown scope '" + name + "'";
            return std::nullopt;
        }
        out.bits_ |= bit(static_cast<scope>(it - names.begin()));
    }
    if (list.empty()) {
        error = "a key needs at least one scope";
        return std::nullopt;
    }
    return out;
}

bool scope_set::may_submit(std::string_view type) const {
    return has(scope::jobs_submit) ||
           std::find(submit_types_.begin(), submit_types_.end(), type) != submit_types_.end();
}

}  // namespace ticketd
