// Fixture: sleeps `delayMs` honouring cancellation, reports progress, then echoes its input
// and attempt as the result (text/plain when the input has "text"; the bytes of input file
// `copyFile` names, under the result name `resultName`, when it has those). With
// "noResult": true it returns without a result. With "killDaemon": true it kills the whole process the moment it starts (a plugin that crashes);
// with "crashWith": "segv" | "abort" | "stack" | "exit" it ends the process on its worker
// thread as a buggy plugin would: a fault, abort(), a stack overflow, exit(0). With
// "validateUntil": "<path>" its validate() blocks until that file exists (a slow validator;
// at most 60 s), first adding a line to the file "validateEntered" names.
#include "fixtures.hpp"

#include <csignal>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <sys/mman.h>

namespace {

int overflow_the_stack(int depth) {
    volatile char frame[4096];
    frame[0] = static_cast<char>(depth);
    if (depth == -1) return 0;  // never: keeps the recursion from being called infinite
    return overflow_the_stack(depth + 1) + frame[0];
}

void crash_with(const std::string& how) {
    if (how == "segv") {
        // A wild write to a page nothing may touch (not a null store, which UBSan's check
        // would stop before any fault happens).
        void* page = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        *static_cast<volatile int*>(page) = 1;
    } else if (how == "abort") {
        std::abort();
    } else if (how == "stack") {
        overflow_the_stack(0);
    } else if (how == "exit") {
        std::exit(0);
    }
}

class sleep_handler final : public ticketd::handler {
   public:
    explicit sleep_handler(std::string_view)
        : runs_(ticketd::counter("runs_total", "Attempts the sleep fixture ran.")),
          input_bytes_(ticketd::histogram("input_bytes", "Size of the inputs it saw.", {10, 100, 1000})) {}
    void validate(std::string_view input, ticketd::validation&) override {
        if (input.find("\"validateUntil\"") == std::string_view::npos) return;
        const auto in = nlohmann::json::parse(input);
        const std::string path = in.value("validateUntil", "");
        std::ofstream(in.value("validateEntered", ""), std::ios::app) << "entered\n";
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (!std::filesystem::exists(path) && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
    void run(ticketd::job& job) override {
        if (job.input().find("\"killDaemon\":true") != std::string_view::npos) std::raise(SIGKILL);
        if (job.input().find("\"crashWith\"") != std::string_view::npos) {
            crash_with(nlohmann::json::parse(job.input()).value("crashWith", ""));
        }
        runs_.record(1);
        input_bytes_.record(static_cast<double>(job.input().size()));
        job.progress(10, "sleeping");
        if (fixtures::sleep_for(job, fixtures::delay_of(job.input()), true)) {
            throw ticketd::job_canceled();
        }
        const auto input = nlohmann::json::parse(job.input());
        if (input.value("noResult", false)) return;  // a plugin's bug: neither a result nor a failure
        if (input.contains("resultName")) job.set_result_name(input["resultName"].get<std::string>());
        if (input.contains("copyFile")) {
            const std::string path(job.input_file(input["copyFile"].get<std::string>()));
            std::ifstream in(path, std::ios::binary);
            if (path.empty() || !in) throw ticketd::job_failed("no-file", "no input file '" + input["copyFile"].get<std::string>() + "'");
            std::ofstream(job.result_file("application/octet-stream"), std::ios::binary) << in.rdbuf();
            return;
        }
        if (input.contains("file")) {
            std::ofstream(job.result_file("text/csv")) << input["file"].get<std::string>();
            return;
        }
        if (input.contains("text")) {
            job.set_result("text/plain; charset=utf-8", input["text"].get<std::string>());
            return;
        }
        const nlohmann::json result = {{"input", input}, {"attempt", job.attempt()},
                                       {"jobId", std::string(job.id())}};
        job.set_result("application/json", result.dump());
    }

   private:
    ticketd::metric runs_;
    ticketd::metric input_bytes_;
};
}  // namespace

TICKETD_PLUGIN(sleep_handler, "sleep", "1.0.0", "Apache-2.0", "Sleeps then echoes", "", "")
