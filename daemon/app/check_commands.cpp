// ticketd --check-config and --check-plugin, the configuration with the command line's
// overrides, and the check that no public address is served without authentication.
#include "app/daemon_app.hpp"
#include "app/job_types.hpp"
#include "auth/keys_file.hpp"
#include "http/tls_credentials.hpp"
#include "plugins/job_handler.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>

#include <iostream>

namespace ticketd {

namespace fs = std::filesystem;

daemon_config load_effective_config(const daemon_options& options) {
    daemon_config config = load_config(options.config_file);
    if (options.state_dir) config.state_dir = fs::absolute(*options.state_dir);
    if (options.listen && !parse_host_port(*options.listen, config.server.listen_host, config.server.listen_port)) {
        throw config_error("--listen: expected HOST:PORT, found '" + *options.listen +
                           "'; fix: e.g. --listen 127.0.0.1:0");
    }
    check_exposure(config);
    return config;
}

void check_exposure_of_socket(const daemon_config& config, int fd) {
    sockaddr_storage addr{};
    socklen_t size = sizeof addr;
    char text[INET6_ADDRSTRLEN] = "?";
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size) == 0) {
        if (addr.ss_family == AF_INET) {
            ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&addr)->sin_addr, text, sizeof text);
        } else if (addr.ss_family == AF_INET6) {
            ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr, text, sizeof text);
        }
    }
    daemon_config bound = config;
    bound.server.listen_host = text;
    check_exposure(bound);
}

int check_config(const daemon_options& options) {
    try {
        const auto config = load_effective_config(options);
        daemon_metrics scratch("check");  // the plugins' metrics are checked as the daemon registers them
        const auto types = load_job_types(config, &scratch, true);
        const auto keys = load_keys_for(config);
        const auto tls = config.server.tls.enabled() ? std::make_unique<tls_credentials>(config.server.tls) : nullptr;
        std::cout << "config OK: " << config.file.string() << "\n";
        if (config.auth.mode == auth_mode::api_keys) {
            std::cout << "  " << keys.keys.size() << " API keys in " << config.auth.keys_file.string() << "\n";
        } else if (config.auth.mode == auth_mode::mtls) {
            std::cout << "  " << keys.principals.size() << " certificate principals in " << config.auth.keys_file.string()
                      << "\n";
        }
        if (tls) std::cout << "  TLS: " << tls->description() << "\n";
        for (const auto& rt : types) {
            const auto& d = rt->handler->library().descriptor();
            const auto c = rt->config();
            std::cout << "  job type " << rt->type << ": plugin " << d.name << " " << d.version << " ("
                      << rt->handler->library().file().string() << "), " << c->workers << " workers, queue "
                      << c->queue_capacity << "\n";
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "ticketd: " << e.what() << "\n";
        return 1;
    }
}

// The files a plugin declares, one line each.
std::string files_text(const declared_files* files) {
    if (files == nullptr) return "(none declared: any files)";
    if (files->empty()) return "(none: jobs read no files)";
    std::string out;
    for (const auto& f : *files) {
        out += "\n    " + f.name + (f.required ? " (required)" : " (optional)");
        if (!f.media_types.empty()) {
            out += ", media types:";
            for (const auto& t : f.media_types) out += " " + t;
        }
        if (f.max_bytes > 0) out += ", at most " + std::to_string(f.max_bytes) + " bytes";
        if (!f.description.empty()) out += ": " + f.description;
    }
    return out;
}

int check_plugin(const fs::path& file, const std::optional<std::string>& settings) {
    try {
        const auto library = plugin_library::load(fs::absolute(file));
        const auto& d = library->descriptor();
        auto schema_text = [](const char* schema) {
            const auto json = nlohmann::json::parse(schema ? schema : "", nullptr, false);
            return json.is_discarded() ? std::string(schema && *schema ? schema : "(none: any value)") : json.dump(2);
        };
        std::cout << "plugin OK: " << library->file().string() << "\n"
                  << "  name:        " << d.name << "\n"
                  << "  version:     " << (d.version ? d.version : "") << "\n"
                  << "  license:     " << (d.license ? d.license : "") << "\n"
                  << "  description: " << (d.description ? d.description : "") << "\n"
                  << "  abi:         " << d.abi_major << "." << d.abi_minor << " (this ticketd: "
                  << TICKETD_PLUGIN_ABI_MAJOR << "." << TICKETD_PLUGIN_ABI_MINOR << "), descriptor "
                  << d.struct_size << " bytes\n"
                  << "  settings schema: " << schema_text(d.settings_schema) << "\n"
                  << "  input schema:    " << schema_text(d.input_schema) << "\n"
                  << "  files:           " << files_text(library->files().get()) << "\n";
        const std::string json_settings = settings ? parse_settings_yaml(*settings) : "{}";
        const auto handler = make_checked_handler(library, json_settings);
        std::cout << "  create(" << json_settings << "): OK\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "ticketd: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace ticketd
