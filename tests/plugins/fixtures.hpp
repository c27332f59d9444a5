// Shared helpers of the test fixture plugins: read `delayMs` from the input.
#pragma once

#include <nlohmann/json.hpp>
#include <ticketd/plugin.hpp>

#include <chrono>
#include <thread>

namespace fixtures {

inline std::chrono::milliseconds delay_of(std::string_view input_json) {
    const auto input = nlohmann::json::parse(input_json, nullptr, false);
    if (!input.is_object()) return std::chrono::milliseconds(0);
    return std::chrono::milliseconds(input.value("delayMs", int64_t{0}));
}

// Sleeps `delay`; returns early (true) when the job is canceled and `honour_cancel`.
inline bool sleep_for(ticketd::job& job, std::chrono::milliseconds delay, bool honour_cancel) {
    const auto end = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < end) {
        if (honour_cancel && job.canceled()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

}  // namespace fixtures
