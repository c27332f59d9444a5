// The JSON Schema validator on both of its inputs: a schema (a plugin's, which ticketd
// compiles at load time) and an instance (a client's input). The input is the schema,
// a NUL byte, then the instance.
#include "fuzz_support.hpp"
#include "plugins/json_schema.hpp"

#include <cstdint>
#include <string_view>

using namespace ticketd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const size_t nul = input.find('\0');
    const auto schema_text = input.substr(0, nul);
    const auto instance_text = nul == std::string_view::npos ? std::string_view("{}") : input.substr(nul + 1);
    // A plugin's schema is parsed as the loader parses it; deep ones are its author's
    // problem, but the validator must not recurse past what the parser accepted.
    const auto schema = nlohmann::json::parse(schema_text, nullptr, false);
    const auto instance = nlohmann::json::parse(instance_text, nullptr, false);
    if (schema.is_discarded() || instance.is_discarded()) return 0;
    try {
        const json_schema compiled(schema);
        (void)compiled.validate(instance);
    } catch (const schema_error&) {
    }
    return 0;
}
