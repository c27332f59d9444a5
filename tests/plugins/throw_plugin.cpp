// Fixture: throws a std::runtime_error from run() (the SDK must turn it into a failure), and
// from its constructor with settings {refuse: true} or {open: <a missing file>}; with
// {metric: NAME} it registers a counter of that name.
#include "fixtures.hpp"

#include <fstream>
#include <stdexcept>

namespace {
class throw_handler final : public ticketd::handler {
   public:
    explicit throw_handler(std::string_view settings) {
        const auto s = nlohmann::json::parse(settings);
        if (s.value("refuse", false)) throw std::runtime_error("refusing these settings");
        if (s.contains("metric")) metric_ = ticketd::counter(s.value("metric", ""), "A metric named by the settings.");
        // A constructor failing for a reason of its own (a file it needs).
        if (const std::string path = s.value("open", ""); !path.empty() && !std::ifstream(path)) {
            throw std::runtime_error("cannot open " + path + ": No such file or directory");
        }
    }
    void run(ticketd::job&) override { throw std::runtime_error("thrown by the throw fixture"); }

   private:
    ticketd::metric metric_;
};
}  // namespace

TICKETD_PLUGIN(throw_handler, "throw", "1.0.0", "Apache-2.0", "Throws", "", "")
