// A job-type plugin (.so) loaded through the v1 C ABI. The file is checked before any of
// its code runs (an ELF shared object with the entry symbol and a non-executable stack),
// then loaded with RTLD_NOW | RTLD_LOCAL, its descriptor and schemas checked. Libraries
// are never unloaded while the daemon runs: every handler holds its library.
#pragma once

#include "model/declared_files.hpp"

#include <ticketd/plugin.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace ticketd {

class json_schema;

// One line: file, what was expected, what was found, the fix.
class plugin_error : public std::runtime_error {
   public:
    using std::runtime_error::runtime_error;
};

class plugin_library {
   public:
    // Throws plugin_error.
    static std::shared_ptr<plugin_library> load(const std::filesystem::path& file);
    ~plugin_library();

    const ticketd_plugin_descriptor& descriptor() const { return *descriptor_; }
    const std::filesystem::path& file() const { return file_; }
    // The plugin's schemas, compiled; nullptr when it declares none (any value).
    const json_schema* settings_schema() const { return settings_schema_.get(); }
    const json_schema* input_schema() const { return input_schema_.get(); }
    // The same as compact JSON text; empty when there is none.
    std::string settings_schema_text() const;
    std::string input_schema_text() const;
    // The files its jobs read; null when it declares none (any files, unchecked).
    const std::shared_ptr<const declared_files>& files() const { return files_; }

   private:
    plugin_library() = default;
    struct impl;
    std::unique_ptr<impl> impl_;
    std::filesystem::path file_;
    const ticketd_plugin_descriptor* descriptor_ = nullptr;
    std::unique_ptr<json_schema> settings_schema_;
    std::unique_ptr<json_schema> input_schema_;
    std::shared_ptr<const declared_files> files_;
};

}  // namespace ticketd
