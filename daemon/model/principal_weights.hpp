// How the workers of each job type are shared among the principals that have jobs queued
// (quotas.<principal>.weight): in proportion to their weights, 1 unless configured.
#pragma once

#include <string>
#include <unordered_map>

namespace ticketd {

struct principal_weights {
    unsigned fallback = 1;  // quotas.default.weight
    std::unordered_map<std::string, unsigned> named;

    unsigned of(const std::string& principal) const {
        const auto it = named.find(principal);
        return it == named.end() ? fallback : it->second;
    }
};

}  // namespace ticketd
