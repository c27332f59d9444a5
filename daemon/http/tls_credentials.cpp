#include "http/tls_credentials.hpp"


#include <boost/asio/ssl/context.hpp>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <fstream>

namespace ticketd {

namespace {

// What OpenSSL says went wrong last (its error queue, emptied).
std::string openssl_reason() {
    std::string out;
    while (const unsigned long e = ERR_get_error()) {
        char text[256];
        ERR_error_string_n(e, text, sizeof text);
        out = text;  // the last is the most specific
    }
    return out.empty() ? "unknown OpenSSL error" : out;
}

[[noreturn]] void refuse(const std::string& key, const std::filesystem::path& file, const std::string& what,
                         const std::string& fix) {
    throw config_error("server.tls." + key + " " + file.string() + ": " + what + "; fix: " + fix);
}

void check_readable(const std::string& key, const std::filesystem::path& file) {
    if (!std::ifstream(file)) refuse(key, file, std::string("cannot be read (") + std::strerror(errno) + ")",
                                     "name a PEM file ticketd's user can read");
}

// RFC 7301: a client that offers ALPN must offer http/1.1, the only protocol served.
int select_http11(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* offered,
                  unsigned int offered_length, void*) {
    static constexpr unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, out_length, http11, sizeof http11, offered, offered_length) !=
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

std::string utf8_of(const ASN1_STRING* text) {
    unsigned char* utf8 = nullptr;
    const int length = ASN1_STRING_to_UTF8(&utf8, text);
    if (length < 0) return "";
    std::string out(reinterpret_cast<const char*>(utf8), static_cast<size_t>(length));
    OPENSSL_free(utf8);
    return out;
}

std::string common_name_of(X509* cert) {
    const X509_NAME* subject = X509_get_subject_name(cert);
    const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (at < 0) return "";
    return utf8_of(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)));
}

}  // namespace

tls_credentials::tls_credentials(const tls_config& config)
    : context_(std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server)) {
    SSL_CTX* ctx = context_->native_handle();
    ERR_clear_error();
    // TLS 1.2 and 1.3 only; TLS 1.2 with forward-secret AEAD suites only (Mozilla's
    // "intermediate" list without DHE); no renegotiation, no compression.
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_cipher_list(ctx,
                            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                            "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                            "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
    SSL_CTX_set_alpn_select_cb(ctx, select_http11, nullptr);
    // Sessions resume (tickets) even with client certificates, within this context.
    static constexpr unsigned char session_context[] = "ticketd";
    SSL_CTX_set_session_id_context(ctx, session_context, sizeof session_context - 1);

    check_readable("certificate", config.certificate);
    if (SSL_CTX_use_certificate_chain_file(ctx, config.certificate.c_str()) != 1) {
        refuse("certificate", config.certificate, "not a PEM certificate chain (" + openssl_reason() + ")",
               "give the server's certificate first, then its intermediates, in PEM");
    }
    check_readable("private_key", config.private_key);
    EVP_PKEY* key = nullptr;
    if (BIO* file = BIO_new_file(config.private_key.c_str(), "r")) {
        // No passphrase callback may prompt on a terminal: an encrypted key is refused.
        key = PEM_read_bio_PrivateKey(file, nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
        BIO_free(file);
    }
    if (key == nullptr) {
        refuse("private_key", config.private_key, "not an unencrypted PEM private key (" + openssl_reason() + ")",
               "give the certificate's key in PEM, without a passphrase");
    }
    const bool matches = SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
    EVP_PKEY_free(key);
    if (!matches) {
        refuse("private_key", config.private_key, "does not match server.tls.certificate (" + openssl_reason() + ")",
               "give the key the certificate was issued for");
    }
    if (!config.client_ca.empty()) {
        check_readable("client_ca", config.client_ca);
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.client_ca.c_str());
        if (names == nullptr || SSL_CTX_load_verify_locations(ctx, config.client_ca.c_str(), nullptr) != 1) {
            if (names != nullptr) sk_X509_NAME_pop_free(names, X509_NAME_free);
            refuse("client_ca", config.client_ca, "holds no PEM CA certificate (" + openssl_reason() + ")",
                   "give the certificates of the CAs that issue client certificates, in PEM");
        }
        SSL_CTX_set_client_CA_list(ctx, names);  // told to clients, to choose their certificate
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
        SSL_CTX_set_verify_depth(ctx, 8);
        verifies_clients_ = true;
    }
    X509* cert = SSL_CTX_get0_certificate(ctx);
    const ASN1_TIME* not_after = X509_get0_notAfter(cert);
    int days = 0, seconds = 0;
    std::string expiry = "expiry unknown";
    if (ASN1_TIME_diff(&days, &seconds, nullptr, not_after) == 1) {
        expiry = days < 0 || seconds < 0 ? "EXPIRED " + std::to_string(-days) + " days ago"
                                         : "expires in " + std::to_string(days) + " days";
    }
    description_ = "certificate CN=" + common_name_of(cert) + ", " + expiry +
                   (verifies_clients_ ? ", client certificates required" : "");
}

tls_credentials::~tls_credentials() = default;

std::shared_ptr<const peer_certificate> peer_certificate_of(ssl_st* connection) {
    X509* cert = SSL_get0_peer_certificate(connection);
    if (cert == nullptr || SSL_get_verify_result(connection) != X509_V_OK) return nullptr;
    auto out = std::make_shared<peer_certificate>();
    out->common_name = common_name_of(cert);
    auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (names != nullptr) {
        for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
            const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
            if (name->type != GEN_URI) continue;
            const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
            out->uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                                   static_cast<size_t>(ASN1_STRING_length(uri)));
        }
        GENERAL_NAMES_free(names);
    }
    return out;
}

}  // namespace ticketd
