// e2e_driver: drives jobs through the whole protocol over keep-alive connections, at a
// fixed concurrency, and checks every answer. Per job:
//   POST /v1/jobs (a unique Idempotency-Key)  -> 202 + Location
//   GET  <Location> with Prefer: wait=30       -> 303 once the job is done (200: ask again)
//   GET  <Location>/result                     -> 200, its input echoed, attempt 1
// --baseline: the same three requests against a server that answers statically (nginx:
// 202, then 200, then 200), without content checks: what the driver can do at most.
// Prints one JSON line: jobs/s, per-job latency, errors, duplicates, the driver's own CPU.
// --submit-only: only the POSTs (to fill a store for the memory and recovery runs).
//   e2e_driver --port P --jobs N --concurrency C [--type noop] [--baseline] [--submit-only] [--run ID]
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using net::awaitable;
using net::use_awaitable;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
    unsigned short port = 0;
    uint64_t jobs = 10000;
    unsigned concurrency = 32;
    std::string type = "noop";
    bool baseline = false;
    bool submit_only = false;  // only POST (filling a store for memory and recovery runs)
    long delay_seconds = -1;  // --delay-seconds: submitted scheduled that far off (with --submit-only)
    std::string run = "run";
};

struct shared_state {
    options opt;
    uint64_t next = 0;  // the io_context runs on one thread: no atomics needed
    uint64_t completed = 0, errors = 0, bad_results = 0, requests = 0;
    std::vector<double> latency_ms;
    std::set<std::string> ids;
    std::string first_error;
    void error(const std::string& what) {
        ++errors;
        if (first_error.empty()) first_error = what;
    }
};

std::string path_of(std::string_view url) {
    const auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return std::string(url);
    const auto slash = url.find('/', scheme + 3);
    return slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
}

awaitable<http::response<http::string_body>> exchange(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                                      http::request<http::string_body>& req, shared_state& st) {
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(true);
    req.prepare_payload();
    co_await http::async_write(stream, req, use_awaitable);
    http::response<http::string_body> res;
    co_await http::async_read(stream, buffer, res, use_awaitable);
    ++st.requests;
    co_return res;
}

awaitable<void> client(tcp::endpoint endpoint, shared_state& st) {
    beast::tcp_stream stream(co_await net::this_coro::executor);
    beast::flat_buffer buffer;
    try {
        co_await stream.async_connect(endpoint, use_awaitable);
        stream.socket().set_option(tcp::no_delay(true));
        while (st.next < st.opt.jobs) {
            const uint64_t n = st.next++;
            const auto t0 = clock_type::now();
            http::request<http::string_body> submit{http::verb::post, "/v1/jobs", 11};
            submit.set(http::field::content_type, "application/json");
            submit.set("Idempotency-Key", "\"" + st.opt.run + "-" + std::to_string(n) + "\"");
            submit.body() = R"({"type":")" + st.opt.type + R"(","input":{"n":)" + std::to_string(n) + "}" +
                            (st.opt.delay_seconds >= 0 ? ",\"delaySeconds\":" + std::to_string(st.opt.delay_seconds) : "") +
                            "}";
            auto res = co_await exchange(stream, buffer, submit, st);
            if (res.result_int() != 202) {
                st.error("submit: HTTP " + std::to_string(res.result_int()) + " " + res.body());
                continue;
            }
            const std::string monitor = path_of(res[http::field::location]);
            if (st.opt.submit_only) {
                ++st.completed;
                st.latency_ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
                continue;
            }
            bool done = false;
            for (int polls = 0; polls < 1000 && !done; ++polls) {
                http::request<http::string_body> poll{http::verb::get, monitor, 11};
                poll.set("Prefer", "wait=30");
                res = co_await exchange(stream, buffer, poll, st);
                if (res.result_int() == 303 || (st.opt.baseline && res.result_int() == 200)) {
                    done = true;
                } else if (res.result_int() != 200) {
                    break;
                }
            }
            if (!done) {
                st.error("poll: HTTP " + std::to_string(res.result_int()) + " " + res.body());
                continue;
            }
            http::request<http::string_body> get{http::verb::get, monitor + "/result", 11};
            res = co_await exchange(stream, buffer, get, st);
            if (res.result_int() != 200) {
                st.error("result: HTTP " + std::to_string(res.result_int()));
                continue;
            }
            if (!st.opt.baseline) {
                const auto doc = nlohmann::json::parse(res.body(), nullptr, false);
                const bool ok = doc.is_object() && doc.value("attempt", 0) == 1 && doc.contains("input") &&
                                doc["input"].value("n", uint64_t{0} - 1) == n;
                if (!ok) ++st.bad_results;
                if (!st.ids.insert(monitor).second) ++st.bad_results;  // a second job for one key
            }
            ++st.completed;
            st.latency_ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
        }
    } catch (const std::exception& e) {
        st.error(std::string("connection: ") + e.what());
    }
}

double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    const size_t k = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
    return v[k];
}

double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
    shared_state st;
    auto& o = st.opt;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
            return argv[++i];
        };
        if (a == "--port") o.port = static_cast<unsigned short>(std::stoi(value()));
        else if (a == "--jobs") o.jobs = std::stoull(value());
        else if (a == "--concurrency") o.concurrency = static_cast<unsigned>(std::stoul(value()));
        else if (a == "--type") o.type = value();
        else if (a == "--run") o.run = value();
        else if (a == "--baseline") o.baseline = true;
        else if (a == "--submit-only") o.submit_only = true;
        else if (a == "--delay-seconds") o.delay_seconds = std::stol(value());
        else {
            std::cerr << "usage: e2e_driver --port P --jobs N --concurrency C [--type T] [--baseline] [--run ID] [--submit-only [--delay-seconds S]]\n";
            return 2;
        }
    }
    net::io_context io(1);
    const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), o.port);
    for (unsigned c = 0; c < o.concurrency; ++c) net::co_spawn(io, client(endpoint, st), net::detached);
    const double cpu0 = cpu_seconds();
    const auto t0 = clock_type::now();
    io.run();
    const double seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    const double cpu = cpu_seconds() - cpu0;
    nlohmann::json out = {{"mode", o.baseline ? "baseline" : "ticketd"},
                          {"jobs", o.jobs},
                          {"concurrency", o.concurrency},
                          {"completed", st.completed},
                          {"errors", st.errors},
                          {"bad_results", st.bad_results},
                          {"requests", st.requests},
                          {"seconds", seconds},
                          {"jobs_per_s", static_cast<double>(st.completed) / seconds},
                          {"latency_ms", {{"p50", percentile(st.latency_ms, 50)}, {"p99", percentile(st.latency_ms, 99)},
                                          {"p999", percentile(st.latency_ms, 99.9)}}},
                          {"driver_cpu_percent", 100.0 * cpu / seconds}};
    if (!st.first_error.empty()) out["first_error"] = st.first_error;
    std::cout << out.dump() << std::endl;
    return st.errors == 0 && st.bad_results == 0 && st.completed == o.jobs ? 0 : 1;
}
