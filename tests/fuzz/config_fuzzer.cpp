// The YAML configuration loader: ticketd.yaml and a job type file in its jobs.d, from
// one input split at a line "---8<---"; the first part is also read as a keys file
// (auth.keys_file). Loading either succeeds or throws config_error whose message starts
// with the file or directory it is about (then, for YAML text, line:column).
#include "auth/keys_file.hpp"
#include "config/config.hpp"
#include "fuzz_support.hpp"

#include <cstdint>
#include <string_view>

using namespace ticketd;

namespace {
std::filesystem::path* dir = nullptr;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    dir = new std::filesystem::path(fuzz::scratch_dir("config"));
    std::filesystem::create_directories(*dir / "jobs.d");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    static constexpr std::string_view cut = "\n---8<---\n";
    const size_t at = input.find(cut);
    const auto main_file = *dir / "ticketd.yaml";
    const auto job_file = *dir / "jobs.d" / "type.yaml";
    fuzz::write_file(main_file, std::string(input.substr(0, at)));
    fuzz::write_file(job_file, at == std::string_view::npos ? "type: t\nplugin: t.so\n" : input.substr(at + cut.size()));
    auto expect_named = [](const config_error& e) {
        const std::string_view what = e.what();
        const auto named = std::string(what.substr(0, what.find(':')));
        if (named.empty() || !std::filesystem::exists(named)) {
            fuzz::violated("a config error that does not start with its file: " + std::string(what));
        }
    };
    try {
        (void)load_config(main_file);
    } catch (const config_error& e) {
        expect_named(e);
    }
    try {
        // What loads must write back as itself: `ticketd keys` rewrites the file whole.
        const auto keys = load_keys_file(main_file);
        fuzz::write_file(main_file, render_keys_file(keys));
        if (render_keys_file(load_keys_file(main_file)) != render_keys_file(keys)) {
            fuzz::violated("a keys file that does not read back as it was written");
        }
    } catch (const config_error& e) {
        expect_named(e);
    }
    return 0;
}
