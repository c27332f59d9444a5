// What checking a bearer token costs one request: authenticator::authenticate() on a
// valid key in a table of N keys, and on an unknown token, in ns per call (the fastest of
// five rounds, so that a busy machine inflates it least). Prints one JSON line.
//   build/release/bench/auth_cost [keys]
#include "auth/authenticator.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace ticketd;

namespace {
double ns_per_call(const authenticator& auth, const std::string& header, auth_failure expected) {
    constexpr int calls = 200'000;
    double best = 1e18;
    for (int round = 0; round < 5; ++round) {
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < calls; ++i) {
            if (auth.authenticate(header, 1).failure != expected) std::abort();
        }
        const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
        best = std::min(best, took.count() / calls);
    }
    return best;
}
}  // namespace

int main(int argc, char** argv) {
    const int count = argc > 1 ? std::atoi(argv[1]) : 1000;
    std::vector<api_key> keys;
    std::string token;
    std::string error;
    const auto scopes = *scope_set::parse({"jobs:submit"}, error);
    for (int i = 0; i < count; ++i) {
        auto k = issue_key("principal-" + std::to_string(i), {"jobs:submit"}, scopes, std::nullopt, 0);
        keys.push_back(k.key);
        token = k.token;
    }
    authenticator auth(auth_mode::api_keys);
    auth.set_keys(std::move(keys));
    authenticator open(auth_mode::none);
    std::printf("{\"benchmark\": \"authenticate\", \"keys\": %d, \"valid_ns\": %.0f, \"unknown_ns\": %.0f, "
                "\"mode_none_ns\": %.0f}\n",
                count, ns_per_call(auth, "Bearer " + token, auth_failure::none),
                ns_per_call(auth, "Bearer tkd_0123456789abcdef_0123456789ABCDEFGHIJabcdefghij01",
                            auth_failure::unknown_key),
                ns_per_call(open, "", auth_failure::none));
}
