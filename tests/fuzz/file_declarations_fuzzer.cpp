// A plugin's declaration of the files its jobs read (descriptor `files`, ABI 1.2), parsed
// when the plugin is loaded: refused with a message or accepted, never a crash; what it
// accepts then checks any submit's files without one.
#include "fuzz_support.hpp"
#include "plugins/file_declarations.hpp"

#include <cstdint>

using namespace ticketd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const auto declared = parse_file_declarations(text);
        job_files files;
        for (const auto& f : declared) files.emplace(f.name, "u");
        files.emplace("undeclared", "u");
        (void)check_file_names(declared, files, "t");
        for (const auto& f : declared) {
            (void)check_upload(declared, f.name, upload_record{"u", "p", "text/csv; charset=utf-8", 100, "", 0, 0});
        }
    } catch (const std::invalid_argument&) {
    }
    return 0;
}
