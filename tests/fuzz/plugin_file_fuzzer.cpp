// What ticketd reads of a plugin file before it loads any of its code, in the order
// plugin_library::load reads it: the section headers' bounds, then (only if they hold)
// the exported symbols through Boost.DLL's library_info, then the program headers.
#include "fuzz_support.hpp"
#include "plugins/elf_file.hpp"

#include <boost/dll/library_info.hpp>

#include <cstdint>

namespace {
std::filesystem::path* file = nullptr;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    file = new std::filesystem::path(ticketd::fuzz::scratch_dir("plugin") / "plugin.so");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ticketd::fuzz::write_file(*file, std::string_view(reinterpret_cast<const char*>(data), size));
    std::string error;
    if (ticketd::elf_sections_in_bounds(*file, error)) {  // as plugin_library::load: only then Boost.DLL
        try {
            boost::dll::library_info info(*file);
            (void)info.symbols();
        } catch (const std::exception&) {
        }
    } else if (error.empty()) {
        ticketd::fuzz::violated("ELF sections out of bounds without a reason");
    }
    error.clear();
    const auto exec_stack = ticketd::wants_executable_stack(*file, error);
    if (!exec_stack && error.empty()) ticketd::fuzz::violated("an unreadable ELF without a reason");
    return 0;
}
