// API keys: what a keys file entry holds, how a token is made and checked.
//
// A token is `tkd_<id>_<secret>`: the prefix lets secret scanners find leaked tokens, the
// id (16 hex digits, not secret) names the key in the keys file, logs and `ticketd keys
// list`, and the secret is 32 base62 characters (190 random bits). Only SHA-256 of the
// whole token is kept: with that much entropy a fast hash is enough (as GitHub's and
// Stripe's keys do), and checking a request costs about a microsecond.
#pragma once

#include "auth/scopes.hpp"
#include "system/time.hpp"

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ticketd {

inline constexpr std::string_view token_prefix = "tkd_";

using token_digest = std::array<unsigned char, 32>;

struct api_key {
    std::string id;
    std::string principal;
    std::vector<std::string> scope_names;  // as written
    scope_set scopes;
    token_digest token_sha256{};
    unix_ms created_at = 0;
    std::optional<unix_ms> expires_at;
    std::optional<unix_ms> revoked_at;
};

// A principal that authenticates by client certificate (auth.mode mtls), with its scopes:
// a `principals:` entry of the keys file.
struct principal_grant {
    std::string name;
    std::vector<std::string> scope_names;  // as written
    scope_set scopes;
};

// What a keys file holds.
struct keys_document {
    std::vector<api_key> keys;
    std::vector<principal_grant> principals;
};

// A new key and its token (shown once, never stored).
struct issued_key {
    api_key key;
    std::string token;
};
issued_key issue_key(std::string principal, std::vector<std::string> scope_names, scope_set scopes,
                     std::optional<unix_ms> expires_at, unix_ms now);

// The key id a token names (nullopt: not shaped like a token).
std::optional<std::string_view> token_key_id(std::string_view token);
// Whether `token` is the one `key` was issued with (constant time in the token's bytes).
bool token_matches(const api_key& key, std::string_view token);

// Principal names: 1-128 characters of A-Z a-z 0-9 and . _ - @ : / + (room for a
// certificate's CN or a SAN URI such as spiffe://example.org/billing).
bool is_principal_name(std::string_view name);

// The keys in force, looked up by id, and the certificate principals, by name. Immutable
// once built: a reload builds a new one.
class key_table {
   public:
    explicit key_table(std::vector<api_key> keys, const std::vector<principal_grant>& principals = {});
    key_table(const key_table&) = delete;  // the index points into keys_
    key_table& operator=(const key_table&) = delete;
    const api_key* find(std::string_view id) const;
    // A certificate principal's grant, as a key whose id is "certificate" (for the log).
    const api_key* find_principal(std::string_view name) const;
    const std::vector<api_key>& keys() const { return keys_; }

   private:
    std::vector<api_key> keys_;
    std::vector<api_key> principals_;
    std::unordered_map<std::string_view, size_t> by_id_;
    std::unordered_map<std::string_view, size_t> by_principal_;
};

}  // namespace ticketd
