// What a key may do: the closed set of scopes of docs/security.md. `jobs:submit` may be
// narrowed to job types (`jobs:submit:report`); `admin` implies every other scope and acts
// on every principal's jobs and uploads.
#pragma once

#include "config/config.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ticketd {

enum class scope : uint8_t { jobs_submit, jobs_read, jobs_cancel, uploads_write, uploads_read, metrics_read, admin };

std::string_view scope_name(scope s);

class scope_set {
   public:
    // Every scope but admin: the one principal of auth.mode `none`.
    static scope_set all_but_admin();
    // From the names in a keys file or on the command line; nullopt (and `error` says
    // which and why) for a name outside the closed set.
    static std::optional<scope_set> parse(const std::vector<std::string>& names, std::string& error);

    bool has(scope s) const { return (bits_ & (bit(s) | bit(scope::admin))) != 0; }
    bool admin() const { return (bits_ & bit(scope::admin)) != 0; }
    // jobs:submit, or jobs:submit:<type>.
    bool may_submit(std::string_view type) const;
    bool may_submit_some_type() const { return has(scope::jobs_submit) || !submit_types_.empty(); }

   private:
    static uint32_t bit(scope s) { return 1u << static_cast<unsigned>(s); }
    uint32_t bits_ = 0;                      // jobs_submit set: any type
    std::vector<std::string> submit_types_;  // jobs:submit:<type> without jobs:submit
};

}  // namespace ticketd
