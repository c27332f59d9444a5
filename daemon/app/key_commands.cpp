// `ticketd keys create|list|revoke`: managing the keys file from the command line. The
// token is printed once, alone on stdout (so `TOKEN=$(ticketd keys create ...)` works);
// everything else goes to stderr.
#include "app/daemon_app.hpp"
#include "auth/keys_file.hpp"

#include <iomanip>
#include <iostream>

namespace ticketd {

namespace {

constexpr const char* keys_usage =
    "usage: ticketd keys create --principal NAME --scope SCOPE [--scope SCOPE ...] [--expires 90d|TIME]\n"
    "       ticketd keys list\n"
    "       ticketd keys revoke ID\n"
    "  each also takes --config FILE (its auth.keys_file is used; default /etc/ticketd/ticketd.yaml)\n"
    "  or --keys-file FILE\n"
    "  scopes: jobs:submit, jobs:submit:TYPE, jobs:read, jobs:cancel, uploads:write, uploads:read,\n"
    "          metrics:read, admin (see docs/security.md)\n"
    "  changes take effect in a running ticketd at its next reload (systemctl reload ticketd)\n";

struct key_options {
    std::string verb;
    std::filesystem::path config_file = "/etc/ticketd/ticketd.yaml";
    std::optional<std::filesystem::path> keys_file;
    std::string principal;
    std::vector<std::string> scopes;
    std::optional<std::string> expires;
    std::string id;
};

int usage_error(const std::string& what) {
    std::cerr << "ticketd keys: " << what << "\n" << keys_usage;
    return 2;
}

std::string state_of(const api_key& k, unix_ms now) {
    if (k.revoked_at) return "revoked " + format_rfc3339(*k.revoked_at);
    if (k.expires_at && *k.expires_at <= now) return "expired";
    return "active";
}

int create(const std::filesystem::path& file, const key_options& o) {
    if (!is_principal_name(o.principal)) {
        return usage_error("--principal must be 1-128 characters of A-Z a-z 0-9 . _ - @ : / +");
    }
    std::string error;
    const auto scopes = scope_set::parse(o.scopes, error);
    if (!scopes) return usage_error("--scope: " + error);
    const unix_ms now = now_unix_ms();
    std::optional<unix_ms> expires;
    if (o.expires) {
        expires = parse_rfc3339(*o.expires);
        if (!expires) {
            try {
                expires = now + parse_duration(*o.expires).count();
            } catch (const config_error&) {
                return usage_error("--expires: expected a duration such as 90d or an RFC 3339 time");
            }
        }
        if (*expires <= now) return usage_error("--expires: that time has passed");
    }
    auto issued = issue_key(o.principal, o.scopes, *scopes, expires, now);
    update_keys_file(file, [&](std::vector<api_key>& keys) { keys.push_back(issued.key); });
    std::cerr << "created key " << issued.key.id << " for principal " << o.principal
              << (expires ? ", expiring " + format_rfc3339(*expires) : std::string()) << " in " << file.string()
              << "\nthe token follows, shown this once; ticketd accepts it after its next reload\n";
    std::cout << issued.token << "\n";
    return 0;
}

int list(const std::filesystem::path& file) {
    const auto keys = std::filesystem::exists(file) ? load_keys_file(file).keys : std::vector<api_key>{};
    const unix_ms now = now_unix_ms();
    std::cout << std::left << std::setw(18) << "ID" << std::setw(24) << "PRINCIPAL" << std::setw(26) << "CREATED"
              << std::setw(26) << "EXPIRES" << std::setw(34) << "STATE" << "SCOPES\n";
    for (const auto& k : keys) {
        std::string scopes;
        for (const auto& s : k.scope_names) scopes += (scopes.empty() ? "" : ",") + s;
        std::cout << std::setw(18) << k.id << std::setw(24) << k.principal << std::setw(26)
                  << format_rfc3339(k.created_at) << std::setw(26)
                  << (k.expires_at ? format_rfc3339(*k.expires_at) : "never") << std::setw(34) << state_of(k, now)
                  << scopes << "\n";
    }
    return 0;
}

int revoke(const std::filesystem::path& file, const std::string& id) {
    bool found = false, already = false;
    update_keys_file(file, [&](std::vector<api_key>& keys) {
        for (auto& k : keys) {
            if (k.id != id) continue;
            found = true;
            already = k.revoked_at.has_value();
            if (!already) k.revoked_at = now_unix_ms();
        }
    });
    if (!found) {
        std::cerr << "ticketd keys: no key " << id << " in " << file.string() << "; `ticketd keys list` shows them\n";
        return 1;
    }
    std::cerr << (already ? "key " + id + " was already revoked\n"
                          : "revoked key " + id + "; it stops working at ticketd's next reload\n");
    return 0;
}

}  // namespace

int keys_command(const std::vector<std::string>& args) {
    key_options o;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        auto value = [&]() -> std::optional<std::string> {
            if (i + 1 >= args.size()) return std::nullopt;
            return args[++i];
        };
        std::optional<std::string> v;
        if (arg == "--config" || arg == "--keys-file" || arg == "--principal" || arg == "--scope" ||
            arg == "--expires") {
            v = value();
            if (!v) return usage_error(arg + " needs a value");
        }
        if (arg == "--config") o.config_file = *v;
        else if (arg == "--keys-file") o.keys_file = *v;
        else if (arg == "--principal") o.principal = *v;
        else if (arg == "--scope") o.scopes.push_back(*v);
        else if (arg == "--expires") o.expires = *v;
        else if (arg == "--help" || arg == "-h") {
            std::cout << keys_usage;
            return 0;
        } else if (arg.starts_with("--")) return usage_error("unknown option '" + arg + "'");
        else if (o.verb.empty()) o.verb = arg;
        else if (o.verb == "revoke" && o.id.empty()) o.id = arg;
        else return usage_error("unexpected '" + arg + "'");
    }
    try {
        const std::filesystem::path file = o.keys_file ? *o.keys_file : load_config(o.config_file).auth.keys_file;
        if (o.verb == "create") return create(file, o);
        if (o.verb == "list") return list(file);
        if (o.verb == "revoke") return o.id.empty() ? usage_error("revoke needs a key id") : revoke(file, o.id);
        return usage_error(o.verb.empty() ? "create, list or revoke?" : "unknown command '" + o.verb + "'");
    } catch (const std::exception& e) {
        std::cerr << "ticketd keys: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace ticketd
