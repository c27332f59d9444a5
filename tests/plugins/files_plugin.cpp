// Fixture: declares the files its jobs read (ABI 1.2) and answers with the size of each
// file it was given: {"data": 12, "notes": 3}.
#include "fixtures.hpp"

#include <filesystem>

namespace {
constexpr const char* files = R"json({
  "data": {"required": true, "mediaTypes": ["text/csv", "application/*"], "maxBytes": 64,
           "description": "the rows"},
  "notes": {}
})json";

class files_handler final : public ticketd::handler {
   public:
    explicit files_handler(std::string_view) {}
    void run(ticketd::job& job) override {
        nlohmann::json sizes = nlohmann::json::object();
        for (const char* name : {"data", "notes"}) {
            if (const auto path = job.input_file(name); !path.empty()) {
                sizes[name] = std::filesystem::file_size(std::string(path));
            }
        }
        job.set_result("application/json", sizes.dump());
    }
};
}  // namespace

TICKETD_PLUGIN_WITH_FILES(files_handler, "files", "1.0.0", "Apache-2.0", "Declares its files", "", "", files)
