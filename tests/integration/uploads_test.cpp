// Uploads (POST /v1/uploads): streamed to disk with their SHA-256, read back, pinned by the
// jobs that name them in `files`, handed to plugins as local paths, purged when expired.
#include "support/daemon_test.hpp"

#include <fstream>

using namespace ticketd::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Bytes no JSON or text path would keep intact: NULs, high bytes, CR/LF.
std::string binary_bytes(size_t n) {
    std::string out(n, '\0');
    uint32_t x = 2463534242u;
    for (auto& ch : out) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        ch = static_cast<char>(x & 0xFF);
    }
    return out;
}

size_t files_in(const fs::path& dir) {
    size_t n = 0;
    for ([[maybe_unused]] const auto& f : fs::directory_iterator(dir)) ++n;
    return n;
}

daemon_config_text upload_config() {
    daemon_config_text c;
    c.server = "  max_body_bytes: 4KiB\n";  // uploads have their own, larger limit
    c.top = "allow_short_retention: true\nuploads:\n  max_bytes: 8MiB\n  ttl: 1h\n";
    c.jobs += "  purge_interval: 50ms\n";
    return c;
}
class uploads : public daemon_test_with<upload_config> {};

daemon_config_text short_ttl_config() {
    auto c = upload_config();
    c.top = "allow_short_retention: true\nuploads:\n  ttl: 300ms\n";
    return c;
}
class short_lived_uploads : public daemon_test_with<short_ttl_config> {};

}  // namespace

TEST_F(uploads, stores_the_body_and_answers_201_with_its_digest) {
    auto r = d.upload("abc", "text/plain; charset=utf-8");
    ASSERT_EQ(r.status, 201u) << r.body;
    const auto doc = r.json();
    EXPECT_EQ(doc.value("size", 0u), 3u);
    EXPECT_EQ(doc.value("sha256", ""), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(doc.value("contentType", ""), "text/plain; charset=utf-8");
    EXPECT_FALSE(doc.value("createdAt", "").empty());
    EXPECT_FALSE(doc.value("expiresAt", "").empty());
    const std::string id = doc.value("id", "");
    EXPECT_EQ(r.header("Location").value_or(""), d.url("/v1/uploads/" + id));

    auto got = d.get("/v1/uploads/" + id);
    ASSERT_EQ(got.status, 200u);
    EXPECT_EQ(got.json(), doc);
    auto head = http_request(d.port(), "HEAD", "/v1/uploads/" + id);
    EXPECT_EQ(head.status, 200u);
    EXPECT_TRUE(head.body.empty());
}

TEST_F(uploads, a_body_larger_than_max_body_bytes_streams_to_disk_and_reaches_the_plugin_intact) {
    const std::string bytes = binary_bytes(3 << 20);  // far over server.max_body_bytes (4 KiB)
    auto r = d.upload(bytes);
    ASSERT_EQ(r.status, 201u) << r.body;
    EXPECT_EQ(r.member("size").get<size_t>(), bytes.size());
    const std::string upload_id = r.member("id").get<std::string>();

    auto job = d.post("/v1/jobs", nlohmann::json{{"type", "sleep"},
                                                 {"input", {{"copyFile", "source"}, {"resultName", "copy of source.bin"}}},
                                                 {"files", {{"source", upload_id}}}}
                                      .dump());
    ASSERT_EQ(job.status, 202u) << job.body;
    EXPECT_EQ(job.json()["files"]["source"], upload_id);
    const std::string id = job.member("id").get<std::string>();
    EXPECT_EQ(d.wait_terminal(id).value("status", ""), "succeeded");
    auto result = d.get("/v1/jobs/" + id + "/result");
    ASSERT_EQ(result.status, 200u);
    EXPECT_TRUE(result.body == bytes) << "the result differs from the upload";
    EXPECT_EQ(result.header("Content-Disposition").value_or(""),
              "attachment; filename=\"copy_of_source.bin\"; filename*=UTF-8''copy%20of%20source.bin");
}

TEST_F(uploads, an_upload_over_its_limit_is_413_before_the_body_is_sent) {
    // As curl does for large bodies: ask first, and get the refusal without sending the body.
    raw_connection c(d.port());
    ASSERT_TRUE(c.send("POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Length: 8388609\r\n"
                       "Expect: 100-continue\r\n\r\n"));
    const std::string answer = c.read_until_close(20s);
    EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
    EXPECT_NE(answer.find("8388608 bytes"), std::string::npos) << answer;
    EXPECT_EQ(files_in(d.dir() / "state" / "uploads"), 0u);
}

TEST_F(uploads, an_upload_over_its_limit_sent_without_asking_first_still_reads_its_413) {
    // As clients that never send Expect: 100-continue do (Python's requests, most
    // libraries): the whole body right behind the header. The daemon answers 413 at the
    // header, then reads and drops the rest before closing, so every send succeeds and the
    // client reads the 413 instead of a connection reset.
    raw_connection c(d.port());
    ASSERT_TRUE(c.send("POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(9 << 20) +
                       "\r\n\r\n"));
    const std::string chunk(1 << 20, 'x');
    for (int i = 0; i < 9; ++i) ASSERT_TRUE(c.send(chunk)) << "the daemon reset the connection at MiB " << i;
    const std::string answer = c.read_until_close(10s);
    EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer.substr(0, 200);
    EXPECT_NE(answer.find("8388608 bytes"), std::string::npos) << answer.substr(0, 400);
    EXPECT_EQ(files_in(d.dir() / "state" / "uploads"), 0u);
}

TEST_F(uploads, a_chunked_upload_over_its_limit_is_413_and_leaves_nothing) {
    raw_connection c(d.port());
    std::string request = "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    const std::string chunk(1 << 20, 'x');
    bool open = c.send(request);
    for (int i = 0; i < 9 && open; ++i) open = c.send("100000\r\n" + chunk + "\r\n");
    if (open) c.send("0\r\n\r\n");
    const std::string answer = c.read_until_close(20s);
    EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer.substr(0, 200);
    EXPECT_TRUE(eventually([&] { return files_in(d.dir() / "state" / "uploads") == 0; }, 20s));
}

TEST_F(uploads, a_client_that_hangs_up_mid_upload_leaves_no_file) {
    {
        raw_connection c(d.port());
        ASSERT_TRUE(c.send("POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
                           std::string(5000, 'a')));
        ASSERT_TRUE(eventually([&] { return files_in(d.dir() / "state" / "uploads") == 1; }, 20s));
    }
    EXPECT_TRUE(eventually([&] { return files_in(d.dir() / "state" / "uploads") == 0; }, 20s));
    EXPECT_EQ(d.upload("still works").status, 201u);
}

TEST_F(uploads, bad_requests_get_problems) {
    expect_problem(d.upload("x", "not a media type"), 400, "invalid-request");
    expect_problem(d.get("/v1/uploads/" + std::string(32, 'a')), 404, "upload-not-found");
    expect_problem(d.get("/v1/uploads/nope"), 404, "upload-not-found");
    expect_problem(d.get("/v1/uploads"), 405, "method-not-allowed");
    expect_problem(d.post("/v1/uploads/" + std::string(32, 'a'), "x"), 405, "method-not-allowed");
}

TEST_F(uploads, a_job_naming_an_unknown_upload_is_400_with_a_pointer_and_stores_nothing) {
    auto r = d.post("/v1/jobs", nlohmann::json{{"type", "sleep"}, {"files", {{"source", std::string(32, 'a')}}}}.dump(),
                    {{"Idempotency-Key", "k1"}});
    expect_problem(r, 400, "invalid-request");
    EXPECT_EQ(r.json()["errors"][0]["pointer"], "/files/source");
    auto bad = d.post("/v1/jobs", nlohmann::json{{"type", "sleep"}, {"files", {{"a/b", "x"}, {"ok", 7}}}}.dump());
    expect_problem(bad, 400, "invalid-request");
    EXPECT_EQ(bad.json()["errors"].size(), 2u) << bad.body;
    EXPECT_EQ(d.get("/v1/jobs").json()["jobs"].size(), 0u);
    // The key stayed free.
    auto ok = d.post("/v1/jobs", nlohmann::json{{"type", "sleep"}}.dump(), {{"Idempotency-Key", "k1"}});
    EXPECT_EQ(ok.status, 202u);
}

TEST_F(uploads, an_upload_is_pinned_while_a_job_that_uses_it_is_unfinished) {
    const std::string upload_id = d.upload("data").member("id").get<std::string>();
    auto job = d.post("/v1/jobs", nlohmann::json{{"type", "sleep"}, {"input", {{"delayMs", 60000}}},
                                                 {"files", {{"source", upload_id}}}}
                                      .dump());
    ASSERT_EQ(job.status, 202u) << job.body;
    const std::string id = job.member("id").get<std::string>();
    expect_problem(d.del("/v1/uploads/" + upload_id), 409, "upload-in-use");
    ASSERT_EQ(d.post("/v1/jobs/" + id + "/cancel", "").status / 100, 2u);
    d.wait_terminal(id);
    EXPECT_EQ(d.del("/v1/uploads/" + upload_id).status, 204u);
    expect_problem(d.get("/v1/uploads/" + upload_id), 404, "upload-not-found");
    EXPECT_FALSE(fs::exists(d.dir() / "state" / "uploads" / upload_id));
    expect_problem(d.del("/v1/uploads/" + upload_id), 404, "upload-not-found");
}

TEST_F(uploads, uploads_and_pins_survive_a_restart) {
    const std::string upload_id = d.upload("persisted").member("id").get<std::string>();
    auto job = d.post("/v1/jobs", nlohmann::json{{"type", "sleep"}, {"input", {{"delayMs", 60000}}},
                                                 {"files", {{"source", upload_id}}}}
                                      .dump());
    ASSERT_EQ(job.status, 202u);
    d.kill9();
    // Debris of an upload the crash interrupted: removed at startup.
    std::ofstream(d.dir() / "state" / "uploads" / ".incoming-debris") << "half";
    d.start();
    auto got = d.get("/v1/uploads/" + upload_id);
    ASSERT_EQ(got.status, 200u);
    EXPECT_EQ(got.member("size").get<int>(), 9);
    EXPECT_FALSE(fs::exists(d.dir() / "state" / "uploads" / ".incoming-debris"));
    expect_problem(d.del("/v1/uploads/" + upload_id), 409, "upload-in-use");
}

TEST_F(short_lived_uploads, unpinned_uploads_expire_and_are_purged) {
    const std::string upload_id = d.upload("short-lived").member("id").get<std::string>();
    ASSERT_TRUE(eventually([&] { return d.get("/v1/uploads/" + upload_id).status == 404; }, 10s));
    // The row goes first, then the file (a crash between leaves a file that startup removes).
    EXPECT_TRUE(eventually([&] { return !fs::exists(d.dir() / "state" / "uploads" / upload_id); }, 20s));
    auto r = d.post("/v1/jobs", nlohmann::json{{"type", "sleep"}, {"files", {{"source", upload_id}}}}.dump());
    expect_problem(r, 400, "invalid-request");
}

// Declared files (ABI 1.2): the `files` fixture declares `data` (required, text/csv or
// application/*, at most 64 bytes) and `notes` (anything).
namespace {
daemon_config_text declared_files_config() {
    auto c = upload_config();
    c.job_types["files.yaml"] = "type: files\nplugin: @FIXTURES@/files.so\nworkers: 1\nqueue_capacity: 10\n";
    return c;
}
class declared_files : public daemon_test_with<declared_files_config> {
   protected:
    std::string upload_id(const std::string& bytes, const std::string& type) {
        auto r = d.upload(bytes, type);
        EXPECT_EQ(r.status, 201u) << r.body;
        return r.member("id").get<std::string>();
    }
    // The one error of a refused submit: its pointer and detail.
    static std::pair<std::string, std::string> only_error(const http_result& r) {
        expect_problem(r, 400, "invalid-request");
        const auto errors = r.member("errors");
        EXPECT_EQ(errors.size(), 1u) << r.body;
        if (errors.empty()) return {};
        return {errors[0].value("pointer", ""), errors[0].value("detail", "")};
    }
};
}  // namespace

TEST_F(declared_files, are_published_with_the_job_type) {
    const auto types = d.get("/v1/job-types").json()["jobTypes"];
    nlohmann::json files, sleep;
    for (const auto& t : types) {
        if (t["type"] == "files") files = t["files"];
        if (t["type"] == "sleep") sleep = t["files"];
    }
    EXPECT_EQ(files, nlohmann::json::parse(R"({"data": {"required": true, "mediaTypes": ["text/csv", "application/*"],
                                                        "maxBytes": 64, "description": "the rows"},
                                               "notes": {"required": false}})"));
    EXPECT_TRUE(sleep.is_null()) << sleep;  // a plugin that declares none takes any files
}

TEST_F(declared_files, a_job_that_fits_them_runs_with_its_files) {
    const auto r = d.submit_with_files("files", nlohmann::json::object(),
                                       {{"data", upload_id("a,b\n1,2\n", "text/csv; charset=utf-8")},
                                        {"notes", upload_id("hi!", "image/png")}});
    ASSERT_EQ(r.status, 202u) << r.body;
    const auto id = r.member("id").get<std::string>();
    ASSERT_EQ(d.wait_terminal(id).value("status", ""), "succeeded");
    EXPECT_EQ(d.get("/v1/jobs/" + id + "/result").json(), nlohmann::json({{"data", 8}, {"notes", 3}}));
    // application/* takes any application type.
    EXPECT_EQ(d.submit_with_files("files", nlohmann::json::object(),
                                  {{"data", upload_id("{}", "application/x-ndjson")}})
                  .status,
              202u);
}

TEST_F(declared_files, are_checked_at_submit_and_a_refusal_leaves_nothing_behind) {
    const auto csv = upload_id("a\n1\n", "text/csv");
    auto [pointer, detail] = only_error(d.submit_with_files("files", nlohmann::json::object(), {{"notes", csv}}));
    EXPECT_EQ(pointer, "/files/data");
    EXPECT_EQ(detail, "job type 'files' requires the file 'data'; upload it (POST /v1/uploads) and name it in files");

    std::tie(pointer, detail) =
        only_error(d.submit_with_files("files", nlohmann::json::object(), {{"data", csv}, {"extra", csv}}));
    EXPECT_EQ(pointer, "/files/extra");
    EXPECT_EQ(detail, "job type 'files' reads no file 'extra'; it reads 'data' and 'notes'");

    const auto text = upload_id("a\n1\n", "text/plain");
    std::tie(pointer, detail) = only_error(d.submit_with_files("files", nlohmann::json::object(), {{"data", text}}));
    EXPECT_EQ(pointer, "/files/data");
    EXPECT_EQ(detail, "upload '" + text + "' is text/plain; the file 'data' must be text/csv or application/*");

    const auto big = upload_id(std::string(65, 'x'), "text/csv");
    std::tie(pointer, detail) = only_error(d.submit_with_files("files", nlohmann::json::object(), {{"data", big}}));
    EXPECT_EQ(pointer, "/files/data");
    EXPECT_EQ(detail, "upload '" + big + "' is 65 bytes; the file 'data' may be at most 64");

    // Hostile names and shapes never reach the declared-files check: the submit's own
    // parser refuses them (invalid UTF-8, too long, not an upload id).
    for (const std::string& body :
         {"{\"type\":\"files\",\"files\":{\"da\xfft\":\"" + csv + "\"}}",
          "{\"type\":\"files\",\"files\":{\"" + std::string(65, 'd') + "\":\"" + csv + "\"}}",
          std::string("{\"type\":\"files\",\"files\":{\"data\":[1]}}"),
          std::string("{\"type\":\"files\",\"files\":[\"data\"]}")}) {
        expect_problem(d.post("/v1/jobs", body), 400, "invalid-request");
    }

    // No job was made, and no upload stayed pinned: each can be deleted.
    EXPECT_EQ(d.get("/v1/jobs?type=files").json()["jobs"].size(), 0u);
    for (const auto& id : {csv, text, big}) EXPECT_EQ(d.del("/v1/uploads/" + id).status, 204u) << id;
}
