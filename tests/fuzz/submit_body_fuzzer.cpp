// A submit body: read as the API reads it (parse_submit_body: runAt, delaySeconds, files,
// labels...), and parsed as JSON (depth bounded while parsing), then its
// input checked by each bundled job type exactly as a submit is (the plugin's input
// schema, then its own validate()), on the real plugins and their shipped settings.
#include "api/client_json.hpp"
#include "api/submit_parser.hpp"
#include "config/config.hpp"
#include "fuzz_support.hpp"
#include "plugins/job_handler.hpp"

#include <cstdint>
#include <memory>
#include <vector>

using namespace ticketd;

namespace {
std::vector<std::unique_ptr<job_handler>>* handlers = nullptr;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const auto dir = fuzz::scratch_dir("submit");
    std::filesystem::create_directories(dir / "state");
    fuzz::write_file(dir / "ticketd.yaml", "state_dir: " + (dir / "state").string() +
                                               "\nplugin_dir: " TICKETD_FUZZ_PLUGIN_DIR
                                               "\njobs_dir: " TICKETD_FUZZ_SOURCE_DIR "/config/jobs.d\n");
    const auto config = load_config(dir / "ticketd.yaml");
    handlers = new std::vector<std::unique_ptr<job_handler>>();
    for (const auto& t : config.job_types) {
        auto library = plugin_library::load(config.plugin_dir / t.plugin);
        handlers->push_back(std::make_unique<job_handler>(library, t.settings));
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    // The API's own reading of the body, member by member (runAt, delaySeconds, files, ...).
    const submit_body body = parse_submit_body(text, 64);
    for (const auto& e : body.errors) {
        (void)nlohmann::json({{"pointer", e.pointer}, {"detail", e.detail}})
            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    if (body.errors.empty()) (void)submit_fingerprint(body, {});
    const client_json parsed = parse_client_json(text, 64);
    if (parsed.value.is_discarded()) return 0;
    // What the engine stores and what a problem document echoes must render.
    (void)parsed.value.dump();
    const auto input = parsed.value.is_object() && parsed.value.contains("input") ? parsed.value["input"] : parsed.value;
    if (!input.is_object()) return 0;
    for (const auto& h : *handlers) {
        for (const auto& e : h->validate(input.dump())) {
            (void)nlohmann::json({{"pointer", e.pointer}, {"detail", e.detail}})
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        }
    }
    return 0;
}
