// The filter of POST /v1/jobs:retry: parsed as the API parses a client's JSON (depth
// bounded while parsing), then read into a job query, as an administrator and as a
// principal; a problem's pointer and detail must render.
#include "api/client_json.hpp"
#include "api/retry_filter.hpp"

#include <cstdint>

using namespace ticketd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const client_json parsed = parse_client_json(text, 64);
    if (parsed.value.is_discarded() || !parsed.value.is_object()) return 0;
    for (const caller& who : {caller{"team-a", false}, caller{"admin", true}}) {
        job_query q;
        if (const auto bad = read_retry_filter(parsed.value, who, 1000, q)) {
            (void)nlohmann::json({{"pointer", bad->pointer}, {"detail", bad->detail}})
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            continue;
        }
        if (q.limit < 1 || q.limit > 1000 || q.statuses.empty()) __builtin_trap();
        if (!who.every_principal && q.principal != who.principal) __builtin_trap();  // never another's jobs
    }
    return 0;
}
