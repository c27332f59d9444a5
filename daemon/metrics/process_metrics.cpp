// process_* metrics in the standard client-library names, read from /proc/self.
#include "metrics/daemon_metrics.hpp"

#include <unistd.h>

#include <filesystem>
#include <iterator>
#include <fstream>
#include <sstream>

namespace ticketd {

namespace {

prometheus::MetricFamily gauge(const char* name, const char* help, double value,
                               prometheus::MetricType type = prometheus::MetricType::Gauge) {
    prometheus::MetricFamily f;
    f.name = name;
    f.help = help;
    f.type = type;
    prometheus::ClientMetric m;
    if (type == prometheus::MetricType::Counter) m.counter.value = value;
    else m.gauge.value = value;
    f.metric.push_back(m);
    return f;
}

double boot_time_seconds() {
    std::ifstream in("/proc/stat");
    std::string key;
    double value = 0;
    while (in >> key) {
        if (key == "btime") {
            in >> value;
            return value;
        }
        in.ignore(1 << 16, '\n');
    }
    return 0;
}

}  // namespace

void collect_process_metrics(std::vector<prometheus::MetricFamily>& out) {
    static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    static const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    static const double boot = boot_time_seconds();

    std::ifstream stat_file("/proc/self/stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
    // Fields after the command name, which is in parentheses and may contain spaces.
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::vector<std::string> f((std::istream_iterator<std::string>(fields)), std::istream_iterator<std::string>());
    if (f.size() > 21) {
        // f[0] is field 3 (state): utime=14, stime=15, num_threads=20, starttime=22, vsize=23, rss=24.
        out.push_back(gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                            (std::stod(f[11]) + std::stod(f[12])) / ticks, prometheus::MetricType::Counter));
        out.push_back(gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                            boot + std::stod(f[19]) / ticks));
        out.push_back(gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", std::stod(f[20])));
        out.push_back(gauge("process_resident_memory_bytes", "Resident memory size in bytes.", std::stod(f[21]) * page));
        out.push_back(gauge("process_threads", "Number of OS threads in the process.", std::stod(f[17])));
    }
    std::error_code ec;
    double fds = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec)) {
        ++fds;
    }
    out.push_back(gauge("process_open_fds", "Number of open file descriptors.", fds));
    std::ifstream limits("/proc/self/limits");
    for (std::string line; std::getline(limits, line);) {
        if (line.rfind("Max open files", 0) == 0) {
            std::istringstream values(line.substr(26));
            double soft = 0;
            if (values >> soft) out.push_back(gauge("process_max_fds", "Maximum number of open file descriptors.", soft));
        }
    }
}

}  // namespace ticketd
