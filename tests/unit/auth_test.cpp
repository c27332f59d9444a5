// API keys: tokens, the keys file, scopes and the authenticator's answers.
#include "auth/authenticator.hpp"
#include "auth/keys_file.hpp"
#include "auth/quotas.hpp"

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sys/stat.h>

using namespace ticketd;
using ticketd::test::temp_dir;

namespace {

constexpr unix_ms now = 1'800'000'000'000;

issued_key make(const std::string& principal, std::vector<std::string> scopes,
                std::optional<unix_ms> expires = std::nullopt) {
    std::string error;
    const auto parsed = scope_set::parse(scopes, error);
    EXPECT_TRUE(parsed) << error;
    return issue_key(principal, std::move(scopes), *parsed, expires, now - 1000);
}

std::string bearer(const std::string& token) { return "Bearer " + token; }

// Written out rather than with std::regex, whose GCC 12 headers warn falsely under ASan.
bool looks_like_token(const std::string& t) {
    if (t.size() != 4 + 16 + 1 + 32 || t.rfind("tkd_", 0) != 0 || t[20] != '_') return false;
    for (size_t i = 4; i < t.size(); ++i) {
        const char c = t[i];
        const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        const bool base62 = hex || (c >= 'g' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (i != 20 && !(i < 20 ? hex : base62)) return false;
    }
    return true;
}

void write(const std::filesystem::path& file, const std::string& text) { std::ofstream(file) << text; }

}  // namespace

TEST(api_keys, tokens_are_prefixed_random_and_name_their_key) {
    std::set<std::string> tokens;
    for (int i = 0; i < 100; ++i) {
        const auto k = make("billing", {"jobs:read"});
        // What a secret scanner's rule would match: tkd_[0-9a-f]{16}_[0-9A-Za-z]{32}.
        EXPECT_TRUE(looks_like_token(k.token)) << k.token;
        EXPECT_EQ(token_key_id(k.token), k.key.id);
        EXPECT_TRUE(token_matches(k.key, k.token));
        tokens.insert(k.token);
    }
    EXPECT_EQ(tokens.size(), 100u);
    const auto k = make("billing", {"jobs:read"});
    std::string changed = k.token;
    changed.back() = changed.back() == 'a' ? 'b' : 'a';
    EXPECT_FALSE(token_matches(k.key, changed));
    for (const std::string bad : {"", "tkd_", "ghp_0123456789abcdef_0123456789ABCDEFGHIJabcdefghij01",
                                  "tkd_0123456789ABCDEF_0123456789ABCDEFGHIJabcdefghij01",
                                  "tkd_0123456789abcdef-0123456789ABCDEFGHIJabcdefghij01",
                                  "tkd_0123456789abcdef_0123456789ABCDEFGHIJabcdefghij0",
                                  "tkd_0123456789abcdef_0123456789ABCDEFGHIJabcdefghij0!"}) {
        EXPECT_FALSE(token_key_id(bad)) << bad;
    }
}

TEST(scopes, form_a_closed_set_and_admin_implies_all) {
    std::string error;
    EXPECT_FALSE(scope_set::parse({"jobs:write"}, error));
    EXPECT_NE(error.find("jobs:write"), std::string::npos);
    EXPECT_FALSE(scope_set::parse({}, error));
    EXPECT_FALSE(scope_set::parse({"jobs:submit:Report!"}, error));
    const auto narrow = scope_set::parse({"jobs:submit:report", "jobs:read"}, error);
    ASSERT_TRUE(narrow);
    EXPECT_TRUE(narrow->may_submit("report"));
    EXPECT_FALSE(narrow->may_submit("import"));
    EXPECT_FALSE(narrow->has(scope::jobs_submit));
    EXPECT_TRUE(narrow->has(scope::jobs_read));
    EXPECT_FALSE(narrow->has(scope::jobs_cancel));
    EXPECT_FALSE(narrow->admin());
    const auto admin = scope_set::parse({"admin"}, error);
    ASSERT_TRUE(admin);
    for (auto s : {scope::jobs_submit, scope::jobs_read, scope::jobs_cancel, scope::uploads_write, scope::uploads_read,
                   scope::metrics_read}) {
        EXPECT_TRUE(admin->has(s)) << scope_name(s);
    }
    EXPECT_TRUE(admin->may_submit("anything"));
    EXPECT_FALSE(scope_set::all_but_admin().admin());
    EXPECT_TRUE(scope_set::all_but_admin().has(scope::metrics_read));
}

TEST(keys_file, round_trips_and_keeps_no_token) {
    temp_dir dir{"ticketd-keys"};
    const auto file = dir.path / "keys.yaml";
    auto a = make("billing", {"jobs:submit:report", "jobs:read"}, now + 3600'000);
    auto b = make("spiffe://example.org/ops", {"admin"});
    b.key.revoked_at = now;
    update_keys_file(file, [&](std::vector<api_key>& keys) { keys = {a.key, b.key}; });
    std::ifstream in(file);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(text.find(a.token), std::string::npos) << "only the hash is stored";
    EXPECT_EQ(text.find(a.token.substr(22)), std::string::npos);
    const auto keys = load_keys_file(file).keys;
    ASSERT_EQ(keys.size(), 2u);
    EXPECT_EQ(keys[0].id, a.key.id);
    EXPECT_EQ(keys[0].principal, "billing");
    EXPECT_EQ(keys[0].scope_names, (std::vector<std::string>{"jobs:submit:report", "jobs:read"}));
    EXPECT_EQ(keys[0].expires_at, a.key.expires_at);
    EXPECT_TRUE(token_matches(keys[0], a.token));
    EXPECT_EQ(keys[1].principal, "spiffe://example.org/ops");
    EXPECT_EQ(keys[1].revoked_at, now);
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u) << "readable by the service's dynamic user, writable by root only";
    ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
    update_keys_file(file, [](std::vector<api_key>& keys) { keys.pop_back(); });
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "a mode the operator set is kept";
    EXPECT_EQ(load_keys_file(file).keys.size(), 1u);

    // Certificate principals (written by hand) are kept by the commands' rewrites.
    std::ofstream(file, std::ios::app) << "principals:\n  - name: spiffe://example.org/billing\n"
                                          "    scopes: [jobs:read, \"jobs:submit:report\"]\n";
    update_keys_file(file, [&](std::vector<api_key>& keys) { keys.push_back(b.key); });
    const auto document = load_keys_file(file);
    EXPECT_EQ(document.keys.size(), 2u);
    ASSERT_EQ(document.principals.size(), 1u);
    EXPECT_EQ(document.principals[0].name, "spiffe://example.org/billing");
    EXPECT_TRUE(document.principals[0].scopes.has(scope::jobs_read));
    EXPECT_TRUE(document.principals[0].scopes.may_submit("report"));
    EXPECT_FALSE(document.principals[0].scopes.may_submit("import"));
}

TEST(keys_file, mistakes_are_named_with_their_line_and_fix) {
    temp_dir dir{"ticketd-keys"};
    const auto file = dir.path / "keys.yaml";
    const auto good = make("billing", {"jobs:read"});
    const std::string entry = render_keys_file({{good.key}, {}});
    struct bad_case {
        std::string text, expected;
    };
    const std::string hash(64, 'a');
    const std::vector<bad_case> cases = {
        {"keys: 3\n", "'keys' must be a list"},
        {"kees: []\n", "unknown key 'kees'"},
        {"keys:\n  - id: 0123456789abcdef\n    principal: a\n    scopes: [jobs:write]\n    sha256: " + hash +
             "\n    created: 2026-12-07T10:00:00Z\n",
         ":4:"},
        {"keys:\n  - id: 0123456789abcdef\n    principal: a b\n    scopes: [jobs:read]\n    sha256: " + hash +
             "\n    created: 2026-12-07T10:00:00Z\n",
         "'principal' must be"},
        {"keys:\n  - id: 0123456789abcdef\n    principal: a\n    scopes: [jobs:read]\n    sha256: abc\n"
         "    created: 2026-12-07T10:00:00Z\n",
         "'sha256' must be 64"},
        {"keys:\n  - id: 0123456789abcdef\n    principal: a\n    scopes: [jobs:read]\n    sha256: " + hash + "\n",
         "no 'created'"},
        {"keys:\n  - id: 0123456789abcdef\n    principal: a\n    scopes: [jobs:read]\n    sha256: " + hash +
             "\n    created: yesterday\n",
         "RFC 3339"},
        {entry + entry.substr(entry.find("  - id")), "appears twice"},
        {"principals:\n  - name: billing\n", "no 'scopes'"},
        {"principals:\n  - name: bill ing\n    scopes: [jobs:read]\n", "'name' must be"},
        {"principals:\n  - name: b\n    scopes: [jobs:read]\n  - name: b\n    scopes: [admin]\n", "appears twice"},
        {"principals:\n  - name: b\n    scopes: [jobs:read]\n    sha256: x\n", "unknown key 'principals[0].sha256'"},
    };
    for (const auto& c : cases) {
        write(file, c.text);
        try {
            (void)load_keys_file(file);
            ADD_FAILURE() << "accepted:\n" << c.text;
        } catch (const config_error& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find(file.string() + ":"), std::string::npos) << what;
            EXPECT_NE(what.find(c.expected), std::string::npos) << what;
            EXPECT_NE(what.find("fix:"), std::string::npos) << what;
        }
    }
}

TEST(authenticator, answers_every_kind_of_credential) {
    authenticator auth(auth_mode::api_keys);
    const auto live = make("billing", {"jobs:read"});
    const auto expired = make("billing", {"jobs:read"}, now - 1);
    auto revoked = make("billing", {"jobs:read"});
    revoked.key.revoked_at = now - 1;
    auth.set_keys({live.key, expired.key, revoked.key});

    EXPECT_EQ(auth.authenticate(std::nullopt, now).failure, auth_failure::missing);
    EXPECT_EQ(auth.authenticate("Basic dXNlcjpwYXNz", now).failure, auth_failure::malformed);
    EXPECT_EQ(auth.authenticate("Bearer", now).failure, auth_failure::malformed);
    EXPECT_EQ(auth.authenticate("Bearer not-a-token", now).failure, auth_failure::malformed);
    // Hostile values: oversized, invalid UTF-8, control bytes, a right token with a tail.
    EXPECT_EQ(auth.authenticate("Bearer " + std::string(16 << 10, 'a'), now).failure, auth_failure::malformed);
    EXPECT_EQ(auth.authenticate("Bearer tkd_\xff\xfe" + live.token.substr(6), now).failure, auth_failure::malformed);
    EXPECT_EQ(auth.authenticate("Bearer " + live.token + "\r\n", now).failure, auth_failure::malformed);
    EXPECT_EQ(auth.authenticate("Bearer " + live.token + " ", now).failure, auth_failure::malformed);
    EXPECT_EQ(auth.authenticate("Bearer  " + live.token, now).failure, auth_failure::malformed);
    const auto stranger = make("billing", {"jobs:read"});
    EXPECT_EQ(auth.authenticate(bearer(stranger.token), now).failure, auth_failure::unknown_key);
    std::string forged = live.token;
    forged.back() = forged.back() == 'a' ? 'b' : 'a';
    EXPECT_EQ(auth.authenticate(bearer(forged), now).failure, auth_failure::unknown_key) << "right id, wrong secret";
    EXPECT_EQ(auth.authenticate(bearer(expired.token), now).failure, auth_failure::expired);
    EXPECT_EQ(auth.authenticate(bearer(revoked.token), now).failure, auth_failure::revoked);
    const auto ok = auth.authenticate(bearer(live.token), now);
    ASSERT_EQ(ok.failure, auth_failure::none);
    EXPECT_EQ(ok.key->principal, "billing");
    EXPECT_EQ(auth.authenticate("bearer " + live.token, now).failure, auth_failure::none) << "the scheme is caseless";

    // A reload replaces the keys: the one held by a request in flight stays valid for it.
    auth.set_keys({expired.key});
    EXPECT_EQ(auth.authenticate(bearer(live.token), now).failure, auth_failure::unknown_key);
    EXPECT_EQ(ok.key->principal, "billing");
}

TEST(authenticator, maps_a_certificate_name_to_its_principal_entry) {
    authenticator auth(auth_mode::mtls);
    const auto key = make("billing", {"jobs:read"});
    std::string error;
    auth.set_keys({key.key}, {{"billing", {"jobs:read"}, *scope_set::parse({"jobs:read"}, error)},
                              {"spiffe://example.org/ops", {"admin"}, *scope_set::parse({"admin"}, error)}});
    const auto billing = auth.authenticate_certificate("billing");
    ASSERT_EQ(billing.failure, auth_failure::none);
    EXPECT_EQ(billing.key->principal, "billing");
    EXPECT_TRUE(billing.key->scopes.has(scope::jobs_read));
    EXPECT_FALSE(billing.key->scopes.admin());
    EXPECT_TRUE(auth.authenticate_certificate("spiffe://example.org/ops").key->scopes.admin());
    EXPECT_EQ(auth.authenticate_certificate("payroll").failure, auth_failure::unknown_principal);
    EXPECT_EQ(auth.authenticate_certificate("Billing").failure, auth_failure::unknown_principal) << "exact names";
    EXPECT_EQ(auth.authenticate_certificate(std::string("billing\0x", 9)).failure, auth_failure::unknown_principal);
    EXPECT_EQ(auth.authenticate_certificate("").failure, auth_failure::no_certificate);
    EXPECT_EQ(auth.authenticate_certificate(std::nullopt).failure, auth_failure::no_certificate);
    // A reload replaces the principals too.
    auth.set_keys({}, {});
    EXPECT_EQ(auth.authenticate_certificate("billing").failure, auth_failure::unknown_principal);
    EXPECT_EQ(billing.key->principal, "billing") << "held by the request in flight";
}

TEST(authenticator, without_keys_everyone_is_anonymous_without_admin) {
    authenticator auth(auth_mode::none);
    const auto r = auth.authenticate(std::nullopt, now);
    ASSERT_EQ(r.failure, auth_failure::none);
    EXPECT_EQ(r.key->principal, "anonymous");
    EXPECT_FALSE(r.key->scopes.admin());
    EXPECT_TRUE(r.key->scopes.has(scope::jobs_cancel));
}

TEST(quota_keeper, a_token_bucket_per_principal_with_its_rate_and_burst) {
    quota_keeper keeper;
    principal_limits limits;
    const auto t0 = quota_keeper::clock::now();
    EXPECT_FALSE(keeper.take_submit("a", limits, t0)) << "no rate: not limited, nothing kept";
    limits.submit_rate = 2;  // a second
    limits.submit_burst = 3;
    for (uint64_t left : {2u, 1u, 0u}) {
        const auto d = keeper.take_submit("a", limits, t0);
        ASSERT_TRUE(d && d->allowed);
        EXPECT_EQ(d->remaining, left);
        EXPECT_EQ(d->burst, 3u);
        EXPECT_EQ(d->window_s, 2u) << "3 tokens at 2 a second: 1.5 s, rounded up";
    }
    const auto refused = keeper.take_submit("a", limits, t0);
    ASSERT_TRUE(refused);
    EXPECT_FALSE(refused->allowed);
    EXPECT_EQ(refused->retry_after_s, 1u);
    EXPECT_EQ(refused->reset_s, 2u);
    EXPECT_TRUE(keeper.take_submit("b", limits, t0)->allowed) << "another principal has a bucket of its own";
    EXPECT_TRUE(keeper.take_submit("a", limits, t0 + std::chrono::milliseconds(500))->allowed) << "refilled";
    EXPECT_FALSE(keeper.take_submit("a", limits, t0 + std::chrono::milliseconds(500))->allowed);
    const auto later = keeper.take_submit("a", limits, t0 + std::chrono::seconds(60));
    EXPECT_EQ(later->remaining, 2u) << "never more than the burst";
    limits.submit_burst = 0;
    limits.submit_rate = 0.5;  // 30/m
    EXPECT_EQ(keeper.take_submit("c", limits, t0)->burst, 1u) << "the burst defaults to a second's worth, at least 1";
    const auto slow = keeper.take_submit("c", limits, t0);
    EXPECT_EQ(slow->retry_after_s, 2u);
}
