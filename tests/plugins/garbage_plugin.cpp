// Fixture: hands the host malformed strings (invalid UTF-8 in its progress and failure
// message, a code with spaces and slashes, a media type with a line break) to check that
// the host cleans them up instead of breaking documents or headers.
#include "fixtures.hpp"

namespace {
class garbage_handler final : public ticketd::handler {
   public:
    explicit garbage_handler(std::string_view) {}
    void run(ticketd::job& job) override {
        job.progress(50, "half \xff\xfe way \xc0\xaf");
        const auto input = nlohmann::json::parse(job.input());
        if (input.value("succeed", false)) {
            job.set_result("text/plain\r\nX-Injected: yes", "ok");
            return;
        }
        throw ticketd::job_failed("Bad Code/../x", std::string("broken \xed\xa0\x80 surrogate and \xf4\x90\x80\x80 too far"));
    }
};
}  // namespace

TICKETD_PLUGIN(garbage_handler, "garbage", "1.0.0", "Apache-2.0", "Sends malformed strings", "", "")
