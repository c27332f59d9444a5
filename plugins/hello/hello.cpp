// hello: the minimal example job type. Waits `delayMs` while reporting progress and
// honouring cancellation, then returns a JSON greeting. Used by the README walk-through
// and the integration tests; read it as the template for a new plugin.
#include <nlohmann/json.hpp>
#include <ticketd/plugin.hpp>

#include <chrono>
#include <string>
#include <thread>

namespace {

constexpr const char* settings_schema = R"({
  "type": "object",
  "properties": {"greeting": {"type": "string", "default": "Hello"}},
  "additionalProperties": false
})";

constexpr const char* input_schema = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "maxLength": 100, "default": "world"},
    "delayMs": {"type": "integer", "minimum": 0, "maximum": 3600000, "default": 0}
  },
  "additionalProperties": false
})";

class hello final : public ticketd::handler {
   public:
    explicit hello(std::string_view settings_json) {
        const auto settings = nlohmann::json::parse(settings_json);
        greeting_ = settings.value("greeting", "Hello");
    }

    // No validate() override: the host checks every input against input_schema before
    // accepting the job, which is all hello needs. Override it for rules a schema cannot
    // express (cross-field checks, lookups in the settings).

    void run(ticketd::job& job) override {
        const auto input = nlohmann::json::parse(job.input());
        const std::string name = input.value("name", "world");
        const auto delay = std::chrono::milliseconds(input.value("delayMs", int64_t{0}));
        const auto start = std::chrono::steady_clock::now();
        for (;;) {
            job.check_canceled();
            const auto elapsed = std::chrono::steady_clock::now() - start;
            if (elapsed >= delay) break;
            job.progress(100.0 * static_cast<double>(elapsed.count()) /
                             static_cast<double>(std::chrono::nanoseconds(delay).count()),
                         "waiting");
            std::this_thread::sleep_for(
                std::min<std::chrono::nanoseconds>(std::chrono::milliseconds(20), delay - elapsed));
        }
        const nlohmann::json result = {{"greeting", greeting_ + ", " + name + "!"},
                                       {"attempt", job.attempt()}};
        job.set_result("application/json", result.dump());
    }

   private:
    std::string greeting_;
};

}  // namespace

TICKETD_PLUGIN(hello, "hello", "1.0.0", "Apache-2.0",
               "Waits delayMs, reporting progress, then greets name", settings_schema,
               input_schema)
