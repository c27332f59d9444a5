#include "plugins/plugin_library.hpp"

#include "plugins/elf_file.hpp"
#include "plugins/file_declarations.hpp"
#include "plugins/host_services.hpp"
#include "plugins/json_schema.hpp"

#include <boost/dll/library_info.hpp>
#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <tuple>

namespace ticketd {

namespace {

[[noreturn]] void reject(const std::filesystem::path& file, const std::string& expected,
                         const std::string& found, const std::string& fix) {
    throw plugin_error(file.string() + ": expected " + expected + ", found " + found + "; fix: " + fix);
}

}  // namespace

struct plugin_library::impl {
    boost::dll::shared_library library;
};

plugin_library::~plugin_library() = default;

std::shared_ptr<plugin_library> plugin_library::load(const std::filesystem::path& file) {
    if (!std::filesystem::is_regular_file(file)) {
        reject(file, "a plugin file", "no such file",
               "build the plugin or correct 'plugin:' / 'plugin_dir'");
    }
    if (std::string error; !elf_sections_in_bounds(file, error)) {
        reject(file, "an ELF shared object", error, "point 'plugin:' at a .so built with ticketd_add_plugin()");
    }
    try {
        boost::dll::library_info info(file);
        const auto symbols = info.symbols();
        if (std::find(symbols.begin(), symbols.end(), TICKETD_PLUGIN_ENTRY_SYMBOL) == symbols.end()) {
            reject(file, "an exported symbol " TICKETD_PLUGIN_ENTRY_SYMBOL,
                   "none (not a ticketd v1 plugin)",
                   "export it with TICKETD_PLUGIN(...) from <ticketd/plugin.hpp>");
        }
    } catch (const plugin_error&) {
        throw;
    } catch (const std::exception& e) {
        reject(file, "an ELF shared object", std::string("an unreadable file (") + e.what() + ")",
               "point 'plugin:' at a .so built with ticketd_add_plugin()");
    }

    std::string elf_error;
    const auto exec_stack = wants_executable_stack(file, elf_error);
    if (!exec_stack) {
        reject(file, "a 64-bit ELF shared object", elf_error, "point 'plugin:' at a .so built with ticketd_add_plugin()");
    }
    if (*exec_stack) {
        reject(file, "a non-executable stack (PT_GNU_STACK without PF_X)", "an executable stack",
               "link with -Wl,-z,noexecstack (ticketd_add_plugin does) and check assembly files for .note.GNU-stack");
    }

    std::shared_ptr<plugin_library> lib(new plugin_library());
    lib->file_ = file;
    lib->impl_ = std::make_unique<impl>();
    try {
        lib->impl_->library.load(file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    } catch (const std::exception& e) {
        // Boost wraps dlerror()'s text; keep just that, it says what is missing.
        std::string text = e.what();
        static constexpr std::string_view marker = "dlerror system message: ";
        if (const auto at = text.find(marker); at != std::string::npos) {
            text = text.substr(at + marker.size());
            if (const auto close = text.rfind(')'); close != std::string::npos) text.resize(close);
        }
        reject(file, "a library dlopen() can load (RTLD_NOW)", "\"" + text + "\"",
               "install the libraries it needs or link them with an rpath, and define every symbol it uses "
               "(ticketd_add_plugin links with -z defs to catch those at build time)");
    }
    auto entry = lib->impl_->library.get<const ticketd_plugin_descriptor*(const ticketd_host_services*)>(
        TICKETD_PLUGIN_ENTRY_SYMBOL);
    const ticketd_plugin_descriptor* d = entry(&host_services());
    if (d == nullptr) reject(file, "a descriptor", "a null pointer", "return the descriptor from the entry point");
    if (d->magic != TICKETD_PLUGIN_MAGIC) {
        char found[16];
        std::snprintf(found, sizeof found, "0x%08X", d->magic);
        reject(file, "descriptor magic 0x4454544B", found,
               "build the plugin with <ticketd/plugin.h> and TICKETD_PLUGIN(...)");
    }
    if (d->abi_major != TICKETD_PLUGIN_ABI_MAJOR) {
        reject(file, "ABI major " + std::to_string(TICKETD_PLUGIN_ABI_MAJOR),
               "ABI major " + std::to_string(d->abi_major),
               "rebuild the plugin against this ticketd's plugin SDK");
    }
    if (d->abi_minor > TICKETD_PLUGIN_ABI_MINOR) {
        reject(file, "ABI minor <= " + std::to_string(TICKETD_PLUGIN_ABI_MINOR),
               "ABI minor " + std::to_string(d->abi_minor),
               "upgrade ticketd, or build the plugin against an older SDK");
    }
    // Every 1.x descriptor has what 1.0 had; what later minors appended (`files`, 1.2) is
    // read only when the plugin's minor and struct_size both say it is there (the first
    // 1.2 SDKs made descriptors without it: they load, declaring no files).
    constexpr size_t v1_0_size = offsetof(ticketd_plugin_descriptor, destroy) + sizeof(d->destroy);
    constexpr size_t v1_2_size = offsetof(ticketd_plugin_descriptor, files) + sizeof(d->files);
    if (d->struct_size < v1_0_size) {
        reject(file, "a descriptor of at least " + std::to_string(v1_0_size) + " bytes",
               std::to_string(d->struct_size) + " bytes", "rebuild the plugin against the current SDK");
    }
    const bool has_files = d->abi_minor >= 2 && d->struct_size >= v1_2_size;
    if (d->name == nullptr || d->name[0] == '\0') {
        reject(file, "a plugin name", "an empty name", "pass a name to TICKETD_PLUGIN(...)");
    }
    for (const auto& [name, present] : {std::pair{"create", d->create != nullptr}, {"validate", d->validate != nullptr},
                                        {"run", d->run != nullptr}, {"destroy", d->destroy != nullptr}}) {
        if (!present) {
            reject(file, std::string("a ") + name + "() function in the descriptor", std::string(name) + " = NULL",
                   "use TICKETD_PLUGIN(...), which fills them all");
        }
    }
    // The schemas must be valid and use only what ticketd's validator supports.
    for (auto [text, slot, what] : {std::tuple{d->settings_schema, &lib->settings_schema_, "settings"},
                                    std::tuple{d->input_schema, &lib->input_schema_, "input"}}) {
        if (text == nullptr || *text == '\0') continue;
        const auto json = nlohmann::json::parse(text, nullptr, false);
        if (json.is_discarded()) {
            reject(file, std::string("a JSON ") + what + " schema", "text that is not JSON",
                   "fix the schema string passed to TICKETD_PLUGIN(...)");
        }
        try {
            *slot = std::make_unique<json_schema>(json);
        } catch (const schema_error& e) {
            reject(file, std::string("a draft-07 JSON Schema for ") + what, e.what(),
                   "use the keywords listed in docs/writing-a-plugin.md");
        }
    }
    if (has_files && d->files != nullptr && *d->files != '\0') {
        try {
            lib->files_ = std::make_shared<const declared_files>(parse_file_declarations(d->files));
        } catch (const std::invalid_argument& e) {
            reject(file, "a JSON declaration of its files", std::string("\"") + e.what() + "\"",
                   "fix the files string passed to TICKETD_PLUGIN_WITH_FILES(...) (docs/writing-a-plugin.md)");
        }
    }
    lib->descriptor_ = d;
    return lib;
}

std::string plugin_library::settings_schema_text() const {
    return settings_schema_ ? settings_schema_->document().dump() : std::string();
}

std::string plugin_library::input_schema_text() const {
    return input_schema_ ? input_schema_->document().dump() : std::string();
}

}  // namespace ticketd
