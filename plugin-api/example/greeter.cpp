// greeter: the smallest useful ticketd plugin, built out of tree against the installed
// SDK (see CMakeLists.txt beside it). It uses nothing but the SDK and the standard
// library, so it builds with any C++17 compiler and standard library.
#include <ticketd/plugin.hpp>

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
        job.set_result("text/plain; charset=utf-8", salutation_ + ", " + name_of(job.input()) + "!");
    }

   private:
    std::string salutation_ = "Hello";
};

}  // namespace

TICKETD_PLUGIN(greeter, "greeter", "1.0.0", "MIT", "Greets by name", settings_schema, input_schema)
