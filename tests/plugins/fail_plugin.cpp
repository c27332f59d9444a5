// Fixture: always fails with code "boom" after `delayMs`.
#include "fixtures.hpp"

namespace {
class fail_handler final : public ticketd::handler {
   public:
    explicit fail_handler(std::string_view) {}
    void run(ticketd::job& job) override {
        fixtures::sleep_for(job, fixtures::delay_of(job.input()), true);
        throw ticketd::job_failed("boom", "the fail fixture always fails");
    }
};
}  // namespace

TICKETD_PLUGIN(fail_handler, "fail", "1.0.0", "Apache-2.0", "Always fails", "", "")
