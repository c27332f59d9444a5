// Benchmark job type `sleep`: sleeps input.ms milliseconds (default 200) without reporting
// progress, waking early on cancel. Measures how well a worker pool is used.
#include <ticketd/plugin.hpp>

#include <chrono>
#include <string>
#include <thread>

namespace {
class sleeper final : public ticketd::handler {
   public:
    explicit sleeper(std::string_view) {}
    void run(ticketd::job& job) override {
        const std::string input(job.input());
        const auto at = input.find("\"ms\":");
        const long ms = at == std::string::npos ? 200 : std::stol(input.substr(at + 5));
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        while (std::chrono::steady_clock::now() < until) {
            job.check_canceled();
            std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
                std::chrono::milliseconds(5), until - std::chrono::steady_clock::now()));
        }
        job.set_result("application/json", "{}");
    }
};
}  // namespace

TICKETD_PLUGIN(sleeper, "sleep", "1.0.0", "Apache-2.0", "Benchmarks: sleeps input.ms milliseconds", "", "")
