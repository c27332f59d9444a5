// HTTPS against the real binary, spoken by two independent clients (curl, and Python's ssl
// in tls_client.py) with certificates the test makes with the openssl CLI: the protocol
// over TLS, what is refused (an untrusted server for the client; for ticketd, no client
// certificate, an expired one, one from another CA, plain HTTP), mTLS principals, and a
// renewed certificate taken at a reload while a keep-alive connection stays open.
#include "support/daemon_test.hpp"

#include <fstream>

using namespace ticketd::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Two CAs (the daemon trusts `ca`; `other_ca` is anyone's) and the certificates the tests
// present, each as <name>.pem and <name>.key.
struct test_pki {
    temp_dir dir{"ticketd-pki"};

    test_pki() {
        make_ca("ca");
        make_ca("other_ca");
        const std::string server_names = "subjectAltName=IP:127.0.0.1,DNS:localhost";
        issue("server", "ca", "/CN=localhost", server_names, "2");
        issue("renewed", "ca", "/CN=localhost", server_names, "30");
        issue("billing", "ca", "/CN=billing", "subjectAltName=URI:spiffe://example.org/payroll", "2");
        issue("stranger", "ca", "/CN=stranger", "", "2");
        issue("expired", "ca", "/CN=billing", "", "-1");
        issue("forged", "other_ca", "/CN=billing", "", "2");
    }
    std::string pem(const std::string& name) const { return (dir.path / (name + ".pem")).string(); }
    std::string key(const std::string& name) const { return (dir.path / (name + ".key")).string(); }

   private:
    void openssl(std::vector<std::string> args) const {
        args.insert(args.begin(), "openssl");
        std::string out;
        if (run_program(args, out) != 0) throw std::runtime_error("openssl failed: " + out);
    }
    void make_ca(const std::string& name) const {
        openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key(name),
                 "-out", pem(name), "-days", "2", "-subj", "/CN=" + name});
    }
    // `days` may be negative: a certificate that has already expired.
    void issue(const std::string& name, const std::string& ca, const std::string& subject,
               const std::string& extension, const std::string& days) const {
        const std::string csr = (dir.path / (name + ".csr")).string();
        openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key(name), "-out",
                 csr, "-subj", subject});
        std::vector<std::string> args{"x509", "-req", "-in", csr, "-CA", pem(ca), "-CAkey", key(ca), "-days", days,
                                      "-out", pem(name)};
        if (!extension.empty()) {
            const auto ext = dir.path / (name + ".ext");
            std::ofstream(ext) << extension << "\n";
            args.insert(args.end(), {"-extfile", ext.string()});
        }
        openssl(args);
    }
};

const test_pki& pki() {
    static const test_pki made;
    return made;
}

// The daemon's certificate and key are copies in its own directory (the reload test
// replaces them); `client_ca` turns on mTLS.
daemon_config_text tls_config(bool client_ca, const std::string& auth = "") {
    daemon_config_text c;
    c.server = "  tls:\n    certificate: tls/server.pem\n    private_key: tls/server.key\n";
    if (client_ca) c.server += "    client_ca: " + pki().pem("ca") + "\n";
    c.top = auth;
    return c;
}

void install_server_certificate(const daemon_process& d, const std::string& name) {
    fs::create_directories(d.dir() / "tls");
    fs::copy_file(pki().pem(name), d.dir() / "tls" / "server.pem", fs::copy_options::overwrite_existing);
    fs::copy_file(pki().key(name), d.dir() / "tls" / "server.key", fs::copy_options::overwrite_existing);
}

struct curl_result {
    int rc = -1;             // curl's exit code: 0, or why the transfer failed
    unsigned status = 0;     // the HTTP status, when there was one
    std::string body;
    std::string location;
};

// curl against the daemon: `args` before the URL (e.g. --cert, -X POST ...).
curl_result curl(const daemon_process& d, const std::string& path, std::vector<std::string> args,
                 const std::string& scheme = "https") {
    args.insert(args.begin(), {"curl", "-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code} %{redirect_url}"});
    args.push_back(scheme + "://127.0.0.1:" + std::to_string(d.port()) + path);
    curl_result r;
    std::string out;
    r.rc = run_program(args, out, 30s);
    const auto last = out.rfind('\n');
    if (last != std::string::npos) {
        r.body = out.substr(0, last);
        const std::string tail = out.substr(last + 1);
        r.status = static_cast<unsigned>(std::atoi(tail.c_str()));
        if (const auto space = tail.find(' '); space != std::string::npos) r.location = tail.substr(space + 1);
    }
    return r;
}

std::vector<std::string> trusting(const std::string& ca = "ca") { return {"--cacert", pki().pem(ca)}; }
std::vector<std::string> presenting(const std::string& name) {
    return {"--cacert", pki().pem("ca"), "--cert", pki().pem(name), "--key", pki().key(name)};
}
std::vector<std::string> submitting(std::vector<std::string> args) {
    args.insert(args.end(), {"-X", "POST", "-H", "Content-Type: application/json", "-d",
                             R"({"type":"hello","input":{"name":"tls"}})"});
    return args;
}

// tls_client.py (Python's ssl); its last output line as JSON.
nlohmann::json python(std::vector<std::string> args) {
    args.insert(args.begin(), {"python3", std::string(TICKETD_TEST_SOURCE_DIR) + "/integration/tls_client.py"});
    std::string out;
    const int rc = run_program(args, out, 60s);
    EXPECT_EQ(rc, 0) << out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return nlohmann::json::parse(out.substr(out.rfind('\n') + 1), nullptr, false);
}
std::vector<std::string> python_get(const daemon_process& d, const std::string& path, std::vector<std::string> more) {
    std::vector<std::string> args{"get", std::to_string(d.port()), path, "--ca", pki().pem("ca")};
    args.insert(args.end(), more.begin(), more.end());
    return args;
}

}  // namespace

TEST(tls, serves_the_protocol_over_https_and_refuses_what_it_must) {
    auto config = tls_config(false);
    config.server += "    handshake_timeout: 300ms\n";
    daemon_process d(config);
    install_server_certificate(d, "server");
    d.start();
    EXPECT_EQ(d.log_count("tls: certificate CN=localhost, expires in"), 1u) << d.log();

    const auto submitted = curl(d, "/v1/jobs", submitting(trusting()));
    ASSERT_EQ(submitted.rc, 0) << submitted.body;
    ASSERT_EQ(submitted.status, 202u) << submitted.body;
    const auto job = nlohmann::json::parse(submitted.body);
    const std::string prefix = "https://127.0.0.1:" + std::to_string(d.port()) + "/v1/jobs/";
    EXPECT_EQ(job["links"]["self"], prefix + job.value("id", "")) << "links name the https address";
    curl_result result;
    EXPECT_TRUE(eventually([&] {
        result = curl(d, "/v1/jobs/" + job.value("id", "") + "/result", trusting());
        return result.status == 200;
    })) << result.body;
    EXPECT_NE(result.body.find("Hello, tls!"), std::string::npos) << result.body;

    // Python's ssl: TLS 1.3 by default, 1.2 when the client goes no higher; ALPN http/1.1.
    const auto modern = python(python_get(d, "/healthz", {"--alpn", "h2", "http/1.1"}));
    EXPECT_EQ(modern.value("status", 0), 200) << modern.dump();
    EXPECT_EQ(modern.value("version", ""), "TLSv1.3");
    EXPECT_EQ(modern.value("alpn", ""), "http/1.1");
    const auto older = python(python_get(d, "/healthz", {"--max", "1.2"}));
    EXPECT_EQ(older.value("version", ""), "TLSv1.2") << older.dump();
    // Connection: close ends with the server's close_notify: reading to the end is clean.
    const auto to_the_end = python({"readall", std::to_string(d.port()), "--ca", pki().pem("ca")});
    EXPECT_TRUE(to_the_end.value("clean", false)) << to_the_end.dump();
    EXPECT_EQ(to_the_end.value("status_line", ""), "HTTP/1.1 200 OK");
    const auto h2_only = python(python_get(d, "/healthz", {"--alpn", "h2"}));
    EXPECT_NE(h2_only.value("error", "").find("no application protocol"), std::string::npos) << h2_only.dump();

    // A client that does not trust ticketd's CA stops at the handshake (curl: 60).
    EXPECT_EQ(curl(d, "/healthz", trusting("other_ca")).rc, 60);
    // Plain HTTP on the TLS port gets no answer, and the daemon goes on.
    const auto plain = curl(d, "/healthz", {}, "http");
    EXPECT_NE(plain.rc, 0);
    EXPECT_EQ(plain.status, 0u);
    EXPECT_EQ(curl(d, "/healthz", trusting()).status, 200u);
    // A client that never starts its handshake is cut off at server.tls.handshake_timeout.
    raw_connection silent(d.port());
    EXPECT_TRUE(silent.closed_by_peer(5s)) << "the default (10 s) would not have";
    raw_connection half(d.port());
    half.send(std::string("\x16\x03\x01\x02\x00\x01", 6));  // the start of a ClientHello, no more
    EXPECT_TRUE(half.closed_by_peer(5s));
    EXPECT_TRUE(d.running());
}

TEST(tls, client_certificates_name_principals_in_mtls_mode) {
    daemon_process d(tls_config(true, "auth:\n  mode: mtls\n"));
    install_server_certificate(d, "server");
    std::ofstream(d.dir() / "keys.yaml") << "principals:\n"
                                            "  - name: billing\n    scopes: [jobs:submit, jobs:read]\n"
                                            "  - name: spiffe://example.org/payroll\n    scopes: [jobs:read]\n";
    d.start();

    const auto submitted = curl(d, "/v1/jobs", submitting(presenting("billing")));
    ASSERT_EQ(submitted.status, 202u) << submitted.body << d.log();
    EXPECT_EQ(nlohmann::json::parse(submitted.body).value("principal", ""), "billing");
    const auto listed = python(python_get(d, "/v1/jobs", {"--cert", pki().pem("billing"), "--key", pki().key("billing")}));
    EXPECT_EQ(listed.value("status", 0), 200) << listed.dump();
    EXPECT_EQ(listed["principals"], nlohmann::json::array({"billing"})) << listed.dump();

    // Refused at the handshake: no certificate, an expired one, one another CA issued.
    for (const auto& args : {trusting(), presenting("expired"), presenting("forged")}) {
        const auto refused = curl(d, "/v1/jobs", args);
        EXPECT_NE(refused.rc, 0) << args[args.size() - 1];
        EXPECT_EQ(refused.status, 0u) << refused.body;
    }
    const auto expired = python(python_get(d, "/v1/jobs", {"--cert", pki().pem("expired"), "--key", pki().key("expired")}));
    EXPECT_NE(expired.value("error", "").find("EXPIRED"), std::string::npos) << expired.dump();
    // A certificate the CA issued to a name without an entry: 403, as a key without scopes.
    const auto stranger = curl(d, "/v1/jobs", presenting("stranger"));
    EXPECT_EQ(stranger.status, 403u) << stranger.body;
    EXPECT_NE(stranger.body.find("not a principal"), std::string::npos) << stranger.body;
    EXPECT_EQ(d.log_count("auth: denied 403 (certificate names no principal)"), 1u) << d.log();

    // auth.mtls_identity: uri takes the principal from the subjectAltName URI instead.
    ASSERT_EQ(d.stop(), 0);
    d.replace_in_config("  mode: mtls\n", "  mode: mtls\n  mtls_identity: uri\n");
    d.start();
    const auto as_payroll = python(python_get(d, "/v1/jobs", {"--cert", pki().pem("billing"), "--key", pki().key("billing")}));
    EXPECT_EQ(as_payroll.value("status", 0), 200) << as_payroll.dump();
    EXPECT_EQ(as_payroll["principals"], nlohmann::json::array()) << "billing's job is not payroll's";
    const auto no_scope = curl(d, "/v1/jobs", submitting(presenting("billing")));
    EXPECT_EQ(no_scope.status, 403u) << no_scope.body;
    EXPECT_NE(no_scope.body.find("jobs:submit"), std::string::npos) << no_scope.body;
}

TEST(tls, a_renewed_certificate_is_served_after_a_reload_and_open_connections_stay) {
    daemon_process d(tls_config(false));
    install_server_certificate(d, "server");
    d.start();
    const auto go = d.dir() / "go";
    const auto client_log = d.dir() / "client.log";
    const pid_t client = start_program({"python3", std::string(TICKETD_TEST_SOURCE_DIR) + "/integration/tls_client.py",
                                        "keepalive", std::to_string(d.port()), "--ca", pki().pem("ca"), "--go", go.string()},
                                       client_log);
    auto client_output = [&] {
        std::ifstream in(client_log);
        return std::string((std::istreambuf_iterator<char>(in)), {});
    };
    ASSERT_TRUE(eventually([&] { return client_output().find("\"ready\"") != std::string::npos; }, 30s))
        << client_output();

    // A broken key is refused at the reload; the running certificate stays.
    std::ofstream(d.dir() / "tls" / "server.key") << "not a key\n";
    d.signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return d.log_count("reload refused") == 1; })) << d.log();
    EXPECT_NE(d.log().find("server.tls.private_key"), std::string::npos) << d.log();
    EXPECT_EQ(curl(d, "/healthz", trusting()).status, 200u);

    install_server_certificate(d, "renewed");
    d.signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return d.log_count("reload: applied") == 1; })) << d.log();
    // The renewed certificate is good for 30 days: 30 within the second it was made, then 29.
    EXPECT_EQ(d.log_count("tls: certificate CN=localhost, expires in 29 days") +
                  d.log_count("tls: certificate CN=localhost, expires in 30 days"),
              1u)
        << d.log();
    std::ofstream(go) << "go\n";
    ASSERT_EQ(wait_program(client, 60s), 0) << client_output();
    const std::string out = client_output();
    const auto report = nlohmann::json::parse(out.substr(out.rfind('{')), nullptr, false);
    EXPECT_EQ(report.value("status", 0), 200) << out;
    EXPECT_TRUE(report.value("same_connection", false)) << "the keep-alive connection stayed open: " << out;
    EXPECT_EQ(report.value("kept", ""), report.value("before", "")) << out;
    EXPECT_NE(report.value("new", ""), report.value("before", "")) << "a new connection gets the renewed certificate";
}

TEST(tls, unusable_files_are_named_at_start) {
    daemon_process d(tls_config(false));
    install_server_certificate(d, "server");
    fs::copy_file(pki().key("renewed"), d.dir() / "tls" / "server.key", fs::copy_options::overwrite_existing);
    std::string out;
    EXPECT_EQ(d.check_config(out), 1) << out;
    EXPECT_NE(out.find("server.tls.private_key"), std::string::npos) << out;
    EXPECT_NE(out.find("does not match server.tls.certificate"), std::string::npos) << out;
    fs::remove(d.dir() / "tls" / "server.pem");
    std::string log;
    EXPECT_EQ(d.start_expect_failure(log), 78) << log;
    EXPECT_NE(log.find("server.tls.certificate"), std::string::npos) << log;
    EXPECT_NE(log.find("cannot be read"), std::string::npos) << log;
}
