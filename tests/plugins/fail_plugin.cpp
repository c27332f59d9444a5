// Fixture: fails after `delayMs`. By default always, with code "boom" (or `code`), for good.
// With "failTimes": N its first N attempts fail retryably (code "flaky"; after
// `retryAfterMs` when given, else by the type's backoff) and later attempts succeed with
// {"attempt": n}.
#include "fixtures.hpp"

namespace {
class fail_handler final : public ticketd::handler {
   public:
    explicit fail_handler(std::string_view) {}
    void run(ticketd::job& job) override {
        fixtures::sleep_for(job, fixtures::delay_of(job.input()), true);
        const auto input = nlohmann::json::parse(job.input(), nullptr, false);
        const auto fail_times = input.is_object() ? input.value("failTimes", -1) : -1;
        if (fail_times < 0) {
            const std::string code = input.is_object() ? input.value("code", "boom") : "boom";
            throw ticketd::job_failed(code, "the fail fixture always fails");
        }
        if (job.attempt() > static_cast<unsigned>(fail_times)) {
            job.set_result("application/json", nlohmann::json{{"attempt", job.attempt()}}.dump());
            return;
        }
        const std::string message = "attempt " + std::to_string(job.attempt()) + " failed, on purpose";
        if (input.contains("retryAfterMs")) {
            job.retry_after("flaky", message, std::chrono::milliseconds(input.value("retryAfterMs", 0)));
        }
        throw ticketd::job_failed("flaky", message, ticketd::retry);
    }
};
}  // namespace

TICKETD_PLUGIN(fail_handler, "fail", "1.0.0", "Apache-2.0", "Fails (for good, or retryably a few times)", "", "")
