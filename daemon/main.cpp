// ticketd: the asynchronous request-reply job runner. Command-line entry point.
#include "app/daemon_app.hpp"

#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#ifdef TICKETD_JEMALLOC
// jemalloc reads this at start-up: purge freed pages on its own thread, within about a
// second (the default keeps them 10 s, then 10 s more as "muzzy"), so RSS follows the
// live jobs down after a burst. MALLOC_CONF in the environment still overrides it.
extern "C" {
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
}
#endif

namespace {

constexpr const char* usage =
    "usage: ticketd [--config FILE] [--listen HOST:PORT] [--state-dir DIR] [--port-file FILE]\n"
    "       ticketd --check-config [--config FILE]\n"
    "       ticketd --check-plugin FILE [--settings YAML|FILE]\n"
    "       ticketd keys create|list|revoke ...   (ticketd keys --help)\n"
    "       ticketd --version\n"
    "\n"
    "  --config FILE     main configuration (default /etc/ticketd/ticketd.yaml)\n"
    "  --listen H:P      override server.listen (port 0 picks a free port)\n"
    "  --state-dir DIR   override state_dir (the SQLite store, results, scratch)\n"
    "  --port-file FILE  write the bound port to FILE once listening\n"
    "  --check-config    validate the configuration and plugins, then exit (0 = valid)\n"
    "  --check-plugin F  load plugin F, print its descriptor or the exact rejection (exit 0/1);\n"
    "                    with --settings, also check those settings (YAML text or a file)\n";

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::string_view(argv[1]) == "keys") {
        return ticketd::keys_command(std::vector<std::string>(argv + 2, argv + argc));
    }
    ticketd::daemon_options options;
    options.config_file = "/etc/ticketd/ticketd.yaml";
    bool check = false;
    std::string check_plugin;
    std::optional<std::string> settings;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&](const char* name) -> std::string {
            if (i + 1 >= argc) {
                std::cerr << "ticketd: " << name << " needs a value\n" << usage;
                std::exit(2);
            }
            return argv[++i];
        };
        if (arg == "--config") options.config_file = value("--config");
        else if (arg == "--listen") options.listen = value("--listen");
        else if (arg == "--state-dir") options.state_dir = value("--state-dir");
        else if (arg == "--port-file") options.port_file = value("--port-file");
        else if (arg == "--check-config") check = true;
        else if (arg == "--check-plugin") check_plugin = value("--check-plugin");
        else if (arg == "--settings") settings = value("--settings");
        else if (arg == "--version") {
            std::cout << "ticketd " << TICKETD_VERSION << "\n";
            return 0;
        } else if (arg == "--help" || arg == "-h") {
            std::cout << usage;
            return 0;
        } else {
            std::cerr << "ticketd: unknown option '" << arg << "'\n" << usage;
            return 2;
        }
    }
    if (!check_plugin.empty()) return ticketd::check_plugin(check_plugin, settings);
    return check ? ticketd::check_config(options) : ticketd::run_daemon(options);
}
