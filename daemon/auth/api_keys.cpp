#include "auth/api_keys.hpp"

#include "system/hex.hpp"
#include "system/random_id.hpp"
#include "system/sha256.hpp"

#include <openssl/crypto.h>

#include <algorithm>

namespace ticketd {

namespace {
constexpr size_t id_bytes = 8;       // 16 hex digits
constexpr size_t secret_chars = 32;  // base62: 32 * log2(62) = 190 bits
constexpr std::string_view base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool is_hex_lower(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}
bool is_base62(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return base62.find(c) != std::string_view::npos; });
}

std::string random_base62(size_t n) {
    std::string out;
    while (out.size() < n) {
        uint8_t b[64];
        random_bytes(b, sizeof b);
        for (uint8_t x : b) {
            if (x < 248 && out.size() < n) out += base62[x % 62];  // 248 = 4 * 62: no bias
        }
    }
    return out;
}
}  // namespace

issued_key issue_key(std::string principal, std::vector<std::string> scope_names, scope_set scopes,
                     std::optional<unix_ms> expires_at, unix_ms now) {
    uint8_t id[id_bytes];
    random_bytes(id, sizeof id);
    issued_key out;
    out.key.id = to_hex(id, sizeof id);
    out.token = std::string(token_prefix) + out.key.id + "_" + random_base62(secret_chars);
    out.key.principal = std::move(principal);
    out.key.scope_names = std::move(scope_names);
    out.key.scopes = scopes;
    out.key.token_sha256 = sha256(out.token);
    out.key.created_at = now;
    out.key.expires_at = expires_at;
    return out;
}

std::optional<std::string_view> token_key_id(std::string_view token) {
    constexpr size_t id_chars = 2 * id_bytes;
    if (token.size() != token_prefix.size() + id_chars + 1 + secret_chars || !token.starts_with(token_prefix) ||
        token[token_prefix.size() + id_chars] != '_') {
        return std::nullopt;
    }
    const auto id = token.substr(token_prefix.size(), id_chars);
    if (!is_hex_lower(id) || !is_base62(token.substr(token_prefix.size() + id_chars + 1))) return std::nullopt;
    return id;
}

bool token_matches(const api_key& key, std::string_view token) {
    const auto digest = sha256(token);
    return CRYPTO_memcmp(digest.data(), key.token_sha256.data(), digest.size()) == 0;
}

bool is_principal_name(std::string_view name) {
    return !name.empty() && name.size() <= 128 && std::all_of(name.begin(), name.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      std::string_view("._-@:/+").find(c) != std::string_view::npos;
           });
}

key_table::key_table(std::vector<api_key> keys, const std::vector<principal_grant>& principals)
    : keys_(std::move(keys)) {
    for (size_t i = 0; i < keys_.size(); ++i) by_id_.emplace(keys_[i].id, i);
    principals_.reserve(principals.size());  // the index points into it
    for (const auto& p : principals) {
        api_key& k = principals_.emplace_back();
        k.id = "certificate";
        k.principal = p.name;
        k.scope_names = p.scope_names;
        k.scopes = p.scopes;
        by_principal_.emplace(k.principal, principals_.size() - 1);
    }
}

const api_key* key_table::find_principal(std::string_view name) const {
    const auto it = by_principal_.find(name);
    return it == by_principal_.end() ? nullptr : &principals_[it->second];
}

const api_key* key_table::find(std::string_view id) const {
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &keys_[it->second];
}

}  // namespace ticketd
