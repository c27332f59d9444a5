// Fixture: throws a std::runtime_error from run() (the SDK must turn it into a failure).
#include "fixtures.hpp"

#include <stdexcept>

namespace {
class throw_handler final : public ticketd::handler {
   public:
    explicit throw_handler(std::string_view settings) {
        if (nlohmann::json::parse(settings).value("refuse", false)) throw std::runtime_error("refusing these settings");
    }
    void run(ticketd::job&) override { throw std::runtime_error("thrown by the throw fixture"); }
};
}  // namespace

TICKETD_PLUGIN(throw_handler, "throw", "1.0.0", "Apache-2.0", "Throws", "", "")
