#include "auth/keys_file.hpp"

#include "config/yaml_section.hpp"
#include "system/durable_file.hpp"
#include "system/hex.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <set>
#include <system_error>

namespace ticketd {

namespace {

std::optional<unix_ms> time_of(section& s, const std::string& key) {
    const auto node = s.get(key);
    if (!node) return std::nullopt;
    const auto t = node->IsScalar() ? parse_rfc3339(node->Scalar()) : std::nullopt;
    if (!t) s.fail(*node, "'" + key + "' must be an RFC 3339 time", "write e.g. 2027-03-07T10:00:00Z");
    return t;
}

// The scopes listed under `node` (a list of names, appended to `names`), checked.
scope_set scopes_of(section& s, const YAML::Node& node, std::vector<std::string>& names) {
    if (!node.IsSequence()) s.fail(node, "'scopes' must be a list", "write e.g. [jobs:submit, jobs:read]");
    for (const auto& v : node) {
        if (!v.IsScalar()) s.fail(v, "each scope must be a name", "write e.g. jobs:read");
        names.push_back(v.Scalar());
    }
    std::string error;
    const auto parsed = scope_set::parse(names, error);
    if (!parsed) {
        s.fail(node, error, "use jobs:submit[:TYPE], jobs:read, jobs:cancel, uploads:write, uploads:read, "
                            "metrics:read or admin");
    }
    return *parsed;
}

principal_grant read_principal(const YAML::Node& node, const std::string& file, size_t index) {
    section s(node, file, "principals[" + std::to_string(index) + "]");
    if (!node.IsMap()) s.fail(node, "each entry of 'principals' must be a mapping", "write name and scopes");
    principal_grant p;
    p.name = s.string("name", "");
    if (!is_principal_name(p.name)) {
        s.fail(s.get("name") ? *s.get("name") : node,
               "'name' must be 1-128 characters of A-Z a-z 0-9 . _ - @ : / +",
               "write the client certificate's CN or SAN URI (auth.mtls_identity), e.g. billing");
    }
    const auto scopes = s.get("scopes");
    if (!scopes) s.fail(node, "the entry has no 'scopes'", "list what the principal may do, e.g. [jobs:read]");
    p.scopes = scopes_of(s, *scopes, p.scope_names);
    s.finish();
    return p;
}

api_key read_entry(const YAML::Node& node, const std::string& file, size_t index) {
    section s(node, file, "keys[" + std::to_string(index) + "]");
    if (!node.IsMap()) s.fail(node, "each entry of 'keys' must be a mapping", "write id, principal, scopes, sha256, created");
    api_key k;
    const auto required = [&](const std::string& key) {
        const auto v = s.get(key);
        if (!v) s.fail(node, "the entry has no '" + key + "'", "add it, or make the key again with `ticketd keys create`");
        return *v;
    };
    k.id = s.string("id", "");
    uint8_t id_bytes[8];
    if (k.id.size() != 16 || !from_hex(k.id, id_bytes)) {
        s.fail(required("id"), "'id' must be 16 lowercase hex digits, found '" + k.id + "'",
               "keep the id `ticketd keys create` wrote");
    }
    k.principal = s.string("principal", "");
    if (!is_principal_name(k.principal)) {
        s.fail(required("principal"), "'principal' must be 1-128 characters of A-Z a-z 0-9 . _ - @ : / +",
               "name the service or team, e.g. billing");
    }
    k.scopes = scopes_of(s, required("scopes"), k.scope_names);
    const std::string digest = s.string("sha256", "");
    if (digest.size() != 64 || !from_hex(digest, k.token_sha256.data())) {
        s.fail(required("sha256"), "'sha256' must be 64 lowercase hex digits",
               "keep the digest `ticketd keys create` wrote");
    }
    const auto created = time_of(s, "created");
    if (!created) required("created");
    k.created_at = *created;
    k.expires_at = time_of(s, "expires");
    k.revoked_at = time_of(s, "revoked");
    s.finish();
    return k;
}

// Every value written is checked for its characters (ids, hex, times; principal and scope
// names, double-quoted: they may hold ':' or start with '@'), so none needs escaping.
void line(std::string& out, std::string_view key, std::string_view value, bool first = false) {
    out.append(first ? "  - " : "    ").append(key).append(": ").append(value).append("\n");
}

std::string quoted_list(const std::vector<std::string>& names) {
    std::string out = "[";
    for (const auto& s : names) out += (out.size() > 1 ? ", \"" : "\"") + s + '"';
    return out + "]";
}

}  // namespace

keys_document load_keys_file(const std::filesystem::path& file) {
    const YAML::Node root = load_yaml(file);
    section top(root, file.string(), "");
    keys_document out;
    if (const auto list = top.get("keys")) {
        if (!list->IsSequence()) top.fail(*list, "'keys' must be a list of entries", "write one '- id: ...' entry per key");
        std::set<std::string> ids;
        for (size_t i = 0; i < list->size(); ++i) {
            out.keys.push_back(read_entry((*list)[i], file.string(), i));
            if (!ids.insert(out.keys.back().id).second) {
                top.fail((*list)[i], "key id '" + out.keys.back().id + "' appears twice", "remove one of the entries");
            }
        }
    }
    if (const auto list = top.get("principals")) {
        if (!list->IsSequence()) top.fail(*list, "'principals' must be a list of entries", "write one '- name: ...' entry per principal");
        std::set<std::string> names;
        for (size_t i = 0; i < list->size(); ++i) {
            out.principals.push_back(read_principal((*list)[i], file.string(), i));
            if (!names.insert(out.principals.back().name).second) {
                top.fail((*list)[i], "principal '" + out.principals.back().name + "' appears twice",
                         "merge the two entries' scopes into one");
            }
        }
    }
    top.finish();
    return out;
}

keys_document load_keys_for(const daemon_config& c) {
    if (c.auth.mode == auth_mode::none) return {};
    if (!std::filesystem::exists(c.auth.keys_file)) {
        throw config_error(c.file.string() + ": auth.mode is " + (c.auth.mode == auth_mode::mtls ? "mtls" : "api_keys") +
                           " and auth.keys_file " + c.auth.keys_file.string() + " does not exist; fix: " +
                           (c.auth.mode == auth_mode::mtls
                                ? "write it with a 'principals:' entry (name, scopes) per client certificate"
                                : "make a key with `ticketd keys create --config " + c.file.string() +
                                      " --principal NAME --scope SCOPE`"));
    }
    return load_keys_file(c.auth.keys_file);
}

std::string render_keys_file(const keys_document& document) {
    const auto& keys = document.keys;
    std::string out =
        "# ticketd API keys (auth.keys_file). Written by `ticketd keys create` and `ticketd keys revoke`;\n"
        "# a token is shown once, when it is made, and only its SHA-256 is kept here.\n"
        "# Changes take effect at the next reload (systemctl reload ticketd).\n";
    out += keys.empty() ? "keys: []\n" : "keys:\n";
    for (const auto& k : keys) {
        line(out, "id", k.id, true);
        line(out, "principal", '"' + k.principal + '"');
        line(out, "scopes", quoted_list(k.scope_names));
        line(out, "sha256", to_hex(k.token_sha256.data(), k.token_sha256.size()));
        line(out, "created", format_rfc3339(k.created_at));
        if (k.expires_at) line(out, "expires", format_rfc3339(*k.expires_at));
        if (k.revoked_at) line(out, "revoked", format_rfc3339(*k.revoked_at));
    }
    if (!document.principals.empty()) out += "principals:\n";
    for (const auto& p : document.principals) {
        line(out, "name", '"' + p.name + '"', true);
        line(out, "scopes", quoted_list(p.scope_names));
    }
    return out;
}

void update_keys_file(const std::filesystem::path& file, const std::function<void(std::vector<api_key>&)>& change) {
    const std::string lock_path = file.string() + ".lock";
    const int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lock < 0) throw std::system_error(errno, std::generic_category(), "open " + lock_path);
    struct unlock {
        int fd;
        ~unlock() { ::close(fd); }  // closing drops the flock
    } release{lock};
    if (::flock(lock, LOCK_EX) != 0) throw std::system_error(errno, std::generic_category(), "lock " + lock_path);
    keys_document document;
    if (std::filesystem::exists(file)) document = load_keys_file(file);
    change(document.keys);
    // 0644: it holds no secret (hashes of 190-bit tokens), and the packaged unit's dynamic
    // user must read it. An operator's tighter mode is kept.
    write_file_durably(file, render_keys_file(document), 0644);
}

}  // namespace ticketd
