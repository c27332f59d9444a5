// The small state files the daemon reads back at start: <state_dir>/paused-types (one job
// type a line) and <state_dir>/schedules.json (what each periodic schedule fired last).
// The first byte picks the file; the rest is its content. A damaged file must be read as
// far as it can be, never crash the start.
#include "embedded/paused_types.hpp"
#include "jobs/periodic_jobs.hpp"
#include "fuzz_support.hpp"

#include <cstdint>

using namespace ticketd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] & 1) {
        std::string problem;
        (void)read_schedule_state(text, problem);
        return 0;
    }
    static const auto file = fuzz::scratch_dir("state-files") / "paused-types";
    fuzz::write_file(file, std::string(text));
    try {
        paused_types paused(file);
        (void)paused.contains("report");
    } catch (const std::runtime_error&) {  // unreadable: the start stops with a message
    }
    return 0;
}
