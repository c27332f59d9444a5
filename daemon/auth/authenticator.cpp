#include "auth/authenticator.hpp"

#include <strings.h>

namespace ticketd {

std::string_view to_string(auth_failure f) {
    switch (f) {
        case auth_failure::none: return "authenticated";
        case auth_failure::missing: return "no key";
        case auth_failure::malformed: return "malformed Authorization";
        case auth_failure::unknown_key: return "unknown key";
        case auth_failure::expired: return "expired key";
        case auth_failure::revoked: return "revoked key";
        case auth_failure::no_certificate: return "no client certificate name";
        case auth_failure::unknown_principal: return "certificate names no principal";
    }
    return "?";
}

authenticator::authenticator(auth_mode mode) : mode_(mode), keys_(std::make_shared<const key_table>(std::vector<api_key>{})) {
    auto anonymous = std::make_shared<api_key>();
    anonymous->principal = "anonymous";
    anonymous->scopes = scope_set::all_but_admin();
    anonymous_ = std::move(anonymous);
}

void authenticator::set_keys(std::vector<api_key> keys, const std::vector<principal_grant>& principals) {
    keys_.store(std::make_shared<const key_table>(std::move(keys), principals));
}

auth_result authenticator::authenticate_certificate(std::optional<std::string_view> name) const {
    if (!name || name->empty()) return {auth_failure::no_certificate, nullptr};
    const std::shared_ptr<const key_table> table = keys_.load();
    const api_key* grant = table->find_principal(*name);
    if (grant == nullptr) return {auth_failure::unknown_principal, nullptr};
    return {auth_failure::none, std::shared_ptr<const api_key>(table, grant)};
}

auth_result authenticator::authenticate(std::optional<std::string_view> authorization, unix_ms now) const {
    if (mode_ == auth_mode::none) return {auth_failure::none, anonymous_};
    if (!authorization) return {auth_failure::missing, nullptr};
    // RFC 6750: "Bearer" (any case), one space, the token.
    constexpr std::string_view scheme = "bearer ";
    std::string_view value = *authorization;
    if (value.size() <= scheme.size() || ::strncasecmp(value.data(), scheme.data(), scheme.size()) != 0) {
        return {auth_failure::malformed, nullptr};
    }
    const std::string_view token = value.substr(scheme.size());
    const auto id = token_key_id(token);
    if (!id) return {auth_failure::malformed, nullptr};
    const std::shared_ptr<const key_table> table = keys_.load();
    const api_key* key = table->find(*id);
    if (key == nullptr || !token_matches(*key, token)) return {auth_failure::unknown_key, nullptr};
    std::shared_ptr<const api_key> held(table, key);
    if (key->revoked_at && *key->revoked_at <= now) return {auth_failure::revoked, std::move(held)};
    if (key->expires_at && *key->expires_at <= now) return {auth_failure::expired, std::move(held)};
    return {auth_failure::none, std::move(held)};
}

}  // namespace ticketd
