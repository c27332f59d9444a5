// Benchmark job type `noop`: returns its input and attempt at once. Counts its runs in a
// plugin metric (ticketd_plugin_noop_runs_total), so a benchmark can prove that every job
// ran exactly once.
#include <ticketd/plugin.hpp>

#include <string>

namespace {
class noop final : public ticketd::handler {
   public:
    explicit noop(std::string_view) : runs_(ticketd::counter("runs_total", "Jobs the noop plugin ran.")) {}
    void run(ticketd::job& job) override {
        runs_.record(1);
        std::string result = "{\"attempt\":" + std::to_string(job.attempt()) + ",\"input\":";
        result.append(job.input());
        result += '}';
        job.set_result("application/json", result);
    }

   private:
    ticketd::metric runs_;
};
}  // namespace

TICKETD_PLUGIN(noop, "noop", "1.0.0", "Apache-2.0", "Benchmarks: returns its input at once", "", "")
