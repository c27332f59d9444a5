// The uploads a job type's jobs read, as its plugin declares them (descriptor `files`,
// ABI 1.2): checked at submit like the input schema, published in GET /v1/job-types.
#pragma once

#include "model/job.hpp"
#include "model/submit.hpp"
#include "model/upload.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ticketd {

struct declared_file {
    std::string name;
    bool required = false;
    std::vector<std::string> media_types;  // "type/sub", "type/*" or "*/*"; empty: any
    uint64_t max_bytes = 0;                // 0: no bound of its own
    std::string description;
};
// In the plugin's order. A job may name only these files.
using declared_files = std::vector<declared_file>;

// A name a job may give a file: 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-'.
bool is_file_name(std::string_view name);

// What is wrong with a submit's `files` by name alone: a required file missing, a name
// the type does not read. Pointers are /files/<name>.
std::vector<validation_error> check_file_names(const declared_files& declared, const job_files& files,
                                               const std::string& type);
// Why `upload` cannot be the file `name` (its media type or size), if it cannot.
std::optional<std::string> check_upload(const declared_files& declared, const std::string& name,
                                        const upload_record& upload);

}  // namespace ticketd
