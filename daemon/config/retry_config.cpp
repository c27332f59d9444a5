// A job type's retry policy: its `retry:` section, or the shorthand `max_attempts` and
// `retry_backoff` at the top of the file (docs/job-types.md, "Retries").
#include "config/yaml_section.hpp"

#include <algorithm>

namespace ticketd {

namespace {

constexpr milliseconds day{24LL * 3600'000};

// A failure code as a plugin's failures carry it (the host lowercases a plugin's code and
// makes every other character '-'): what `retry.on` may list besides the outcomes.
bool is_failure_code(std::string_view code) {
    return !code.empty() && code.size() <= 64 && std::all_of(code.begin(), code.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
    });
}

}  // namespace

void load_retry(section& top, retry_policy& p) {
    const auto shorthand = top.get("max_attempts") ? top.get("max_attempts") : top.get("retry_backoff");
    p.max_attempts = static_cast<unsigned>(top.integer("max_attempts", p.max_attempts, 1, 100));
    p.initial_ms = top.duration("retry_backoff", milliseconds(p.initial_ms), milliseconds(0), day).count();
    const auto node = top.get("retry");
    if (!node) return;
    if (shorthand) {
        top.fail(*shorthand, "'max_attempts' and 'retry_backoff' are shorthand for 'retry:', which is given too",
                 "move them into 'retry:' (retry.max_attempts, retry.backoff.initial)");
    }
    section retry = top.child("retry");
    p.max_attempts = static_cast<unsigned>(retry.integer("max_attempts", p.max_attempts, 1, 100));
    p.history = static_cast<unsigned>(retry.integer("history", p.history, 0, 100));
    section backoff = retry.child("backoff");
    p.initial_ms = backoff.duration("initial", milliseconds(p.initial_ms), milliseconds(0), day).count();
    p.multiplier = backoff.decimal("multiplier", p.multiplier, 1.0, 10.0);
    p.max_delay_ms = backoff.duration("max", milliseconds(p.max_delay_ms), milliseconds(0), day).count();
    p.jitter = backoff.decimal("jitter", p.jitter, 0.0, 1.0);
    backoff.finish();
    if (const auto on = retry.get("on")) {
        if (!on->IsSequence()) {
            retry.fail(*on, "'retry.on' must be a list", "write e.g. on: [timeout, interrupted, db-unavailable]");
        }
        p.on_timeout = p.on_interrupted = false;
        p.on_codes.clear();
        for (const auto& item : *on) {
            const std::string what = item.IsScalar() ? item.Scalar() : "";
            if (what == "timeout") p.on_timeout = true;
            else if (what == "interrupted") p.on_interrupted = true;
            else if (is_failure_code(what)) p.on_codes.push_back(what);
            else {
                retry.fail(item, "'retry.on' lists '" + what + "', which is neither timeout, interrupted nor a failure code",
                           "list timeout, interrupted or a plugin's failure code (letters, digits, '-', '_', '.')");
            }
        }
    }
    retry.finish();
}

}  // namespace ticketd
