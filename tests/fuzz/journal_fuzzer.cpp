// Journal replay at start-up, from bytes on disk. The first input byte picks the mode:
//   even: the rest is a segment file as found on disk (any damage, any framing);
//   odd:  the rest is records separated by "JREC", appended through the journal (so they
//         are framed and checksummed) and replayed into decode_job_write, as recovery does.
// Replay either hands over intact records or throws journal_error; decoding a record
// either returns a write or throws std::runtime_error naming what is wrong.
#include "fuzz_support.hpp"
#include "store/job_write.hpp"
#include "store/journal.hpp"

#include <cstdint>
#include <string_view>

using namespace ticketd;

namespace {
std::filesystem::path* dir = nullptr;

void replay_all() {
    journal j(*dir, 64 << 10);
    (void)j.replay(0, [](uint64_t, std::string_view payload) {
        try {
            // What was decoded is written again as the same bytes, whatever it was read from.
            std::string once, twice;
            encode(decode_job_write(payload), once);
            encode(decode_job_write(once), twice);
            if (once != twice) fuzz::violated("a decoded write does not encode the same way twice");
        } catch (const std::runtime_error&) {
        }
    });
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    dir = new std::filesystem::path(fuzz::scratch_dir("journal") / "journal");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::filesystem::remove_all(*dir);
    std::filesystem::create_directories(*dir);
    try {
        if (data[0] % 2 == 0) {
            fuzz::write_file(*dir / "00000000000000000001.journal", rest);
        } else {
            journal j(*dir, 64 << 10);
            (void)j.replay(0, [](uint64_t, std::string_view) {});
            j.start(1);
            size_t at = 0;
            while (at <= rest.size()) {
                const size_t end = std::min(rest.find("JREC", at), rest.size());
                j.add(rest.substr(at, end - at));
                at = end + 4;
            }
            j.commit();
        }
        replay_all();
    } catch (const journal_error&) {
    }
    return 0;
}
