// Fixture: sleeps `delayMs` and ignores cancellation, then succeeds.
#include "fixtures.hpp"

namespace {
class stubborn_handler final : public ticketd::handler {
   public:
    explicit stubborn_handler(std::string_view) {}
    void run(ticketd::job& job) override {
        fixtures::sleep_for(job, fixtures::delay_of(job.input()), false);
        job.set_result("text/plain", "done anyway");
    }
};
}  // namespace

TICKETD_PLUGIN(stubborn_handler, "stubborn", "1.0.0", "Apache-2.0", "Ignores cancellation", "",
               "")
