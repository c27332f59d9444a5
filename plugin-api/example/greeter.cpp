// greeter: the smallest useful ticketd plugin, built out of tree against the installed
// SDK (see CMakeLists.txt beside it). It uses nothing but the SDK and the standard
// library, so it builds with any C++17 compiler and standard library.
#include <ticketd/plugin.hpp>

#include <fstream>
#include <iterator>
#include <string>

namespace {

constexpr const char* settings_schema = R"({
  "type": "object",
  "properties": {"salutation": {"type": "string", "default": "Hello"}},
  "additionalProperties": false
})";

constexpr const char* input_schema = R"({
  "type": "object",
  "properties": {"name": {"type": "string", "pattern": "^[A-Za-z ]{1,40}$"}},
  "required": ["name"],
  "additionalProperties": false
})";

// The files a job may bring (ABI 1.2): the host refuses at submit a job that names another
// file, or a signature that is not plain text or is over 4 KiB, so run() need not.
constexpr const char* files = R"({
  "signature": {"required": false, "mediaTypes": ["text/plain"], "maxBytes": 4096,
                "description": "a line appended to the greeting"}
})";

// The host has validated the input against input_schema: "name" is a plain string of
// letters and spaces, so a tiny extraction is enough here; real plugins use a JSON
// library of their choice.
std::string name_of(std::string_view input) {
    const auto key = input.find("\"name\"");
    const auto open = input.find('"', input.find(':', key) + 1);
    const auto close = input.find('"', open + 1);
    return std::string(input.substr(open + 1, close - open - 1));
}

class greeter final : public ticketd::handler {
   public:
    explicit greeter(std::string_view settings_json) {
        if (settings_json.find("\"salutation\"") != std::string_view::npos) {
            const auto open = settings_json.find('"', settings_json.find(':', settings_json.find("\"salutation\"")) + 1);
            salutation_ = std::string(settings_json.substr(open + 1, settings_json.find('"', open + 1) - open - 1));
        }
    }

    void run(ticketd::job& job) override {
        job.progress(50, "composing");
        job.check_canceled();
        std::string greeting = salutation_ + ", " + name_of(job.input()) + "!";
        if (const auto path = job.input_file("signature"); !path.empty()) {
            std::ifstream in{std::string(path)};
            if (!in) {  // the disk may be back in a moment: let the type's retry policy try again
                throw ticketd::job_failed("signature-unreadable", "cannot open the signature file", ticketd::retry);
            }
            greeting += "\n" + std::string(std::istreambuf_iterator<char>(in), {});
        }
        job.set_result("text/plain; charset=utf-8", greeting);
    }

   private:
    std::string salutation_ = "Hello";
};

}  // namespace

TICKETD_PLUGIN_WITH_FILES(greeter, "greeter", "1.1.0", "MIT", "Greets by name", settings_schema, input_schema, files)
