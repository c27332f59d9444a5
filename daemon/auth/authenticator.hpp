// Who a request comes from: the key its `Authorization: Bearer` token names, checked
// against the keys in force (replaced whole at a reload, so a revoked key stops working
// at the next request on any connection); in auth.mode `mtls`, the principal its client
// certificate names, with the scopes of the keys file's entry for it. In auth.mode `none`
// every request is the one principal `anonymous`, with every scope but admin.
#pragma once

#include "auth/api_keys.hpp"
#include "config/config.hpp"

#include <atomic>
#include <memory>
#include <optional>
#include <string_view>

namespace ticketd {

enum class auth_failure { none, missing, malformed, unknown_key, expired, revoked, no_certificate, unknown_principal };
std::string_view to_string(auth_failure f);  // "no key", "malformed", "unknown key", ...

struct auth_result {
    auth_failure failure = auth_failure::none;
    // The key (set when it succeeded, and for an expired or revoked key, for the log);
    // holds the table it came from alive.
    std::shared_ptr<const api_key> key;
};

class authenticator {
   public:
    explicit authenticator(auth_mode mode);

    auth_mode mode() const { return mode_; }
    // The keys and certificate principals in force from now on (at start and at each reload).
    void set_keys(std::vector<api_key> keys, const std::vector<principal_grant>& principals = {});
    // `authorization`: the request's Authorization header, if it has one.
    auth_result authenticate(std::optional<std::string_view> authorization, unix_ms now) const;
    // auth.mode mtls: `name` is the verified client certificate's (auth.mtls_identity).
    auth_result authenticate_certificate(std::optional<std::string_view> name) const;

   private:
    const auth_mode mode_;
    std::shared_ptr<const api_key> anonymous_;
    std::atomic<std::shared_ptr<const key_table>> keys_;
};

}  // namespace ticketd
