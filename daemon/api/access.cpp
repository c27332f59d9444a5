#include "api/access.hpp"

#include "metrics/daemon_metrics.hpp"
#include "system/log.hpp"
#include "system/time.hpp"

#include <mutex>

namespace ticketd {

namespace {
std::string_view detail_of(auth_failure f) {
    switch (f) {
        case auth_failure::missing: return "this request needs an API key: send Authorization: Bearer <token>";
        case auth_failure::malformed:
            return "the Authorization header is not 'Bearer <token>' with a ticketd token (tkd_...)";
        case auth_failure::unknown_key: return "the API key is not valid";
        case auth_failure::expired: return "the API key has expired; ask for a new one";
        case auth_failure::revoked: return "the API key was revoked";
        case auth_failure::no_certificate:
            return "the client certificate has no name to map to a principal (auth.mtls_identity)";
        case auth_failure::unknown_principal:
            return "the client certificate's name is not a principal in ticketd's keys file";
        case auth_failure::none: break;
    }
    return "";
}
}  // namespace

auth_result authenticate(const authenticator& auth, const auth_config& config, const http_request& head) {
    if (auth.mode() == auth_mode::mtls) {
        std::optional<std::string_view> name;
        if (head.peer && config.identity == mtls_identity::common_name) name = head.peer->common_name;
        if (head.peer && config.identity == mtls_identity::uri && !head.peer->uris.empty()) name = head.peer->uris.front();
        return auth.authenticate_certificate(name);
    }
    // Two Authorization fields: malformed, whichever would have let it in.
    const auto authorization =
        head.header_count("authorization") > 1 ? std::optional<std::string_view>("") : head.header("authorization");
    return auth.authenticate(authorization, now_unix_ms());
}

unsigned status_of(auth_failure why) {
    return why == auth_failure::no_certificate || why == auth_failure::unknown_principal ? 403 : 401;
}

http_response unauthenticated(const problem_context& ctx, auth_failure why) {
    if (status_of(why) == 403) return make_problem(ctx, 403, "forbidden", detail_of(why));
    auto res = make_problem(ctx, 401, "unauthenticated", detail_of(why));
    // RFC 6750 section 3: the error code only when a token was sent.
    res.set("WWW-Authenticate", why == auth_failure::missing ? R"(Bearer realm="ticketd")"
                                                             : R"(Bearer realm="ticketd", error="invalid_token")");
    return res;
}

http_response forbidden(const problem_context& ctx, std::string_view scope) {
    return make_problem(ctx, 403, "forbidden", "this API key or certificate lacks the scope " + std::string(scope),
                        {{"scope", scope}});
}

void count_quota_refusal(daemon_metrics& metrics, const quotas_config& quotas, const std::string& principal,
                         std::string_view reason) {
    static const std::string other = "other";
    metrics.principal_rejected(quotas.principals.contains(principal) ? principal : other, reason);
}

void log_denied(unsigned max_per_second, unsigned status, std::string_view why, const api_key* key, std::string_view route,
                const http_request& head) {
    // At most `max_per_second` lines a second: a client sending denied requests in a loop must not
    // flood the journal (journald would then drop the daemon's other lines). The rest are
    // counted in one line when the next second's first is written.
    static std::mutex mutex;
    static int64_t second = 0;
    static unsigned written = 0, dropped = 0;
    {
        std::lock_guard lock(mutex);
        const int64_t now = now_unix_ms() / 1000;
        if (now != second) {
            if (dropped > 0) log_warning("auth: " + std::to_string(dropped) + " more denied requests were not logged");
            second = now;
            written = dropped = 0;
        }
        if (++written > max_per_second) {
            ++dropped;
            return;
        }
    }
    log_warning("auth: denied " + std::to_string(status) + " (" + std::string(why) + "): principal " +
                (key ? key->principal : std::string("-")) + ", key " + (key ? key->id : std::string("-")) + ", " +
                head.method + " " + std::string(route) + ", request " + head.request_id);
}

}  // namespace ticketd
