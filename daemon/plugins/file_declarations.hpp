// A plugin's declaration of the files its jobs read (descriptor `files`, ABI 1.2), as
// JSON text:
//   {"<name>": {"required": true, "mediaTypes": ["text/csv", "text/*"],
//               "maxBytes": 1073741824, "description": "..."}, ...}
// Every member but the name is optional. Parsed once, when the plugin is loaded.
#pragma once

#include "model/declared_files.hpp"

#include <stdexcept>
#include <string>
#include <string_view>

namespace ticketd {

// Throws std::invalid_argument saying what is wrong (a JSON pointer and the rule).
declared_files parse_file_declarations(std::string_view json_text);

}  // namespace ticketd
