// The bundled `transcode` job type through the real daemon with real ffmpeg, on media the
// test generates (a sine tone, colour bars): every target, the options, probing of
// non-media, ffmpeg's error tail, and cancel/timeout ending the ffmpeg process group.
#include "support/daemon_test.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace ticketd::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

daemon_config_text transcode_config() {
    daemon_config_text c;
    // A grace far beyond killGraceMs: the plugin, not the daemon's force-finish, ends the job.
    c.jobs = "  cancel_grace: 10s\n  drain_timeout: 5s\n";
    c.job_types["transcode.yaml"] = "type: transcode\nplugin: @PLUGINS@/transcode.so\nworkers: 2\nmax_attempts: 1\n"
                                    "settings:\n  killGraceMs: 2000\n";
    c.job_types["broken.yaml"] = "type: broken_ffmpeg\nplugin: @PLUGINS@/transcode.so\nmax_attempts: 1\n"
                                 "settings:\n  ffmpeg: @FIXTURES@/failing-ffmpeg\n";
    c.job_types["small.yaml"] = "type: small_output\nplugin: @PLUGINS@/transcode.so\nmax_attempts: 1\n"
                                "settings:\n  outputBytes: 1048576\n";
    return c;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string run_output(const std::string& command) {
    std::string out;
    if (FILE* p = ::popen(command.c_str(), "r")) {
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        ::pclose(p);
    }
    return out;
}

// Processes whose command line mentions `needle` (ffmpeg's arguments name the upload).
int processes_mentioning(const std::string& needle) {
    int n = 0;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const std::string pid = entry.path().filename().string();
        if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
        std::string cmdline = slurp(entry.path() / "cmdline");
        for (auto& ch : cmdline) ch = ch == '\0' ? ' ' : ch;
        if (cmdline.find(needle) != std::string::npos) ++n;
    }
    return n;
}

class transcode_jobs : public daemon_test_with<transcode_config> {
   protected:
    // Generates media with ffmpeg's lavfi sources; returns the file's bytes.
    std::string generate(const std::string& name, const std::string& args) {
        const auto path = d.dir() / name;
        const std::string command = "ffmpeg -nostdin -hide_banner -loglevel error -y " + args + " '" + path.string() + "'";
        if (std::system(command.c_str()) != 0) throw std::runtime_error("cannot generate test media: " + command);
        return slurp(path);
    }
    std::string tone() {
        return generate("tone.wav", "-f lavfi -i sine=frequency=440:duration=3:sample_rate=44100 -ac 2 -c:a pcm_s16le");
    }
    std::string bars() {
        return generate("bars.mp4", "-f lavfi -i testsrc=duration=2:size=320x240:rate=25 -f lavfi -i sine=duration=2 "
                                    "-shortest -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac");
    }
    std::string upload(const std::string& bytes, const std::string& type) {
        auto r = d.upload(bytes, type);
        EXPECT_EQ(r.status, 201u) << r.body;
        return r.json().value("id", "");
    }
    std::string submit(const std::string& upload_id, const nlohmann::json& input, const std::string& type = "transcode") {
        auto r = d.submit_with_files(type, input, {{"source", upload_id}});
        EXPECT_EQ(r.status, 202u) << r.body;
        return r.json().value("id", "");
    }
    // Runs the job to success and probes its result with ffprobe.
    nlohmann::json transcoded(const std::string& upload_id, const nlohmann::json& input, http_result* result = nullptr) {
        const auto id = submit(upload_id, input);
        const auto job = d.wait_terminal(id, 60s);
        EXPECT_EQ(job.value("status", ""), "succeeded") << job.dump();
        auto r = d.get("/v1/jobs/" + id + "/result");
        EXPECT_EQ(r.status, 200u);
        const auto out = d.dir() / ("out-" + id);
        std::ofstream(out, std::ios::binary) << r.body;
        if (result) *result = r;
        return nlohmann::json::parse(
            run_output("ffprobe -v error -print_format json -show_format -show_streams '" + out.string() + "'"), nullptr,
            false);
    }
};

}  // namespace

TEST_F(transcode_jobs, wav_to_mp3_with_bitrate_sample_rate_and_channels) {
    const auto source = upload(tone(), "audio/wav");
    http_result r;
    const auto probe = transcoded(source, {{"target", "mp3"}, {"audioBitrateKbps", 96}, {"sampleRate", 22050},
                                           {"channels", 1}, {"outputName", "tone"}},
                                  &r);
    EXPECT_EQ(r.header("Content-Type").value_or(""), "audio/mpeg");
    EXPECT_EQ(r.header("Content-Disposition").value_or(""), "attachment; filename=\"tone.mp3\"; filename*=UTF-8''tone.mp3");
    ASSERT_TRUE(probe.is_object()) << "ffprobe could not read the result";
    const auto& a = probe["streams"][0];
    EXPECT_EQ(a.value("codec_name", ""), "mp3");
    EXPECT_EQ(a.value("sample_rate", ""), "22050");
    EXPECT_EQ(a.value("channels", 0), 1);
    EXPECT_NEAR(std::stod(probe["format"].value("duration", "0")), 3.0, 0.2);
    EXPECT_NEAR(std::stod(probe["format"].value("bit_rate", "0")), 96000, 8000);
}

TEST_F(transcode_jobs, every_audio_target_produces_its_codec) {
    const auto source = upload(tone(), "audio/wav");
    const std::map<std::string, std::pair<std::string, std::string>> expected = {
        {"opus", {"opus", "audio/ogg; codecs=opus"}},
        {"ogg", {"vorbis", "audio/ogg; codecs=vorbis"}},
        {"flac", {"flac", "audio/flac"}},
        {"wav", {"pcm_s16le", "audio/wav"}}};
    for (const auto& [target, want] : expected) {
        http_result r;
        const auto probe = transcoded(source, {{"target", target}}, &r);
        ASSERT_TRUE(probe.is_object()) << target;
        EXPECT_EQ(probe["streams"][0].value("codec_name", ""), want.first) << target;
        EXPECT_EQ(r.header("Content-Type").value_or(""), want.second);
        EXPECT_NEAR(std::stod(probe["format"].value("duration", "0")), 3.0, 0.2) << target;
    }
}

TEST_F(transcode_jobs, video_to_mp4_and_webm_scaled_down_never_up) {
    const auto source = upload(bars(), "video/mp4");
    http_result r;
    auto probe = transcoded(source, {{"target", "mp4"}, {"maxHeight", 144}}, &r);
    EXPECT_EQ(r.header("Content-Type").value_or(""), "video/mp4");
    ASSERT_TRUE(probe.is_object());
    EXPECT_EQ(probe["streams"][0].value("codec_name", ""), "h264");
    EXPECT_EQ(probe["streams"][0].value("height", 0), 144);
    EXPECT_EQ(probe["streams"][0].value("width", 0), 192);
    EXPECT_EQ(probe["streams"][1].value("codec_name", ""), "aac");

    probe = transcoded(source, {{"target", "webm"}, {"maxHeight", 1080}}, &r);
    EXPECT_EQ(r.header("Content-Type").value_or(""), "video/webm");
    ASSERT_TRUE(probe.is_object());
    EXPECT_EQ(probe["streams"][0].value("codec_name", ""), "vp9");
    EXPECT_EQ(probe["streams"][0].value("height", 0), 240);  // not upscaled
    EXPECT_EQ(probe["streams"][1].value("codec_name", ""), "opus");
}

TEST_F(transcode_jobs, non_media_and_missing_streams_fail_clearly) {
    // Declared as audio or video: a text upload is refused at submit, no job made.
    auto refused = d.submit_with_files("transcode", {{"target", "mp3"}}, {{"source", upload("some text\n", "text/plain")}});
    expect_problem(refused, 400, "invalid-request");
    EXPECT_EQ(refused.member("errors")[0].value("pointer", ""), "/files/source");
    expect_problem(d.submit("transcode", {{"target", "mp3"}}), 400, "invalid-request");  // no source at all
    // Labelled as anything: ffprobe decides it is not media.
    auto job = d.wait_terminal(submit(upload("just some text, not a song\n", "application/octet-stream"),
                                      {{"target", "mp3"}}));
    EXPECT_EQ(job.value("status", ""), "failed");
    EXPECT_EQ(job["error"].value("code", ""), "transcode/not-media");
    EXPECT_NE(job["error"].value("detail", "").find("not an audio or video file"), std::string::npos) << job.dump();

    job = d.wait_terminal(submit(upload(tone(), "audio/wav"), {{"target", "mp4"}}));
    EXPECT_EQ(job["error"].value("code", ""), "transcode/no-video");
    EXPECT_NE(job["error"].value("detail", "").find("pcm_s16le"), std::string::npos) << job.dump();
}

TEST_F(transcode_jobs, an_ffmpeg_failure_carries_the_tail_of_its_stderr) {
    const auto job = d.wait_terminal(submit(upload(tone(), "audio/wav"), {{"target", "mp3"}}, "broken_ffmpeg"));
    EXPECT_EQ(job.value("status", ""), "failed");
    EXPECT_EQ(job["error"].value("code", ""), "broken_ffmpeg/ffmpeg-failed");
    const std::string detail = job["error"].value("detail", "");
    EXPECT_NE(detail.find("exited with status 1"), std::string::npos) << detail;
    EXPECT_NE(detail.find("simulated encoder failure\nConversion failed!"), std::string::npos) << detail;
}

TEST_F(transcode_jobs, bad_options_are_400_with_pointers) {
    const auto source = upload(tone(), "audio/wav");
    auto r = d.submit_with_files("transcode", {{"target", "mp3"}, {"maxHeight", 720}}, {{"source", source}});
    expect_problem(r, 400, "invalid-request");
    EXPECT_EQ(r.json()["errors"][0].value("pointer", ""), "/input/maxHeight");
    r = d.submit_with_files("transcode", {{"target", "opus"}, {"sampleRate", 44100}}, {{"source", source}});
    EXPECT_EQ(r.json()["errors"][0].value("pointer", ""), "/input/sampleRate");
    r = d.submit_with_files("transcode", {{"target", "flac"}, {"audioBitrateKbps", 128}}, {{"source", source}});
    EXPECT_EQ(r.json()["errors"][0].value("pointer", ""), "/input/audioBitrateKbps");
    r = d.submit_with_files("transcode", {{"target", "avi"}}, {{"source", source}});
    EXPECT_EQ(r.json()["errors"][0].value("pointer", ""), "/input/target");
    r = d.submit_with_files("transcode", {{"target", "mp3"}, {"outputName", "../etc/passwd"}}, {{"source", source}});
    EXPECT_EQ(r.json()["errors"][0].value("pointer", ""), "/input/outputName");
    EXPECT_EQ(d.get("/v1/jobs?type=transcode").json()["jobs"].size(), 0u);
}

class slow_transcode : public transcode_jobs {
   protected:
    // Long enough that VP9 takes many seconds on it.
    std::string slow_video() {
        return generate("slow.mp4", "-f lavfi -i testsrc2=duration=20:size=640x360:rate=25 -c:v libx264 "
                                    "-preset ultrafast -pix_fmt yuv420p");
    }
    void wait_transcoding(const std::string& id) {
        ASSERT_TRUE(eventually([&] {
            const auto j = d.get("/v1/jobs/" + id + "?redirect=false").json();
            return j.contains("progress") && j["progress"].value("message", "").rfind("transcoding:", 0) == 0;
        }, 30s)) << d.get("/v1/jobs/" + id).body;
    }
};

TEST_F(slow_transcode, cancel_ends_the_ffmpeg_process_group) {
    const auto source = upload(slow_video(), "video/mp4");
    const auto id = submit(source, {{"target", "webm"}});
    wait_transcoding(id);
    EXPECT_EQ(processes_mentioning(source), 1);  // ffmpeg, reading the upload
    EXPECT_EQ(d.post("/v1/jobs/" + id + "/cancel", "").status, 202u);
    EXPECT_EQ(d.wait_terminal(id, 30s).value("status", ""), "canceled");
    EXPECT_EQ(processes_mentioning(source), 0);
    EXPECT_EQ(d.log().find("ignored the stop request"), std::string::npos);
}

TEST_F(slow_transcode, the_timeout_ends_the_ffmpeg_process_group) {
    const auto source = upload(slow_video(), "video/mp4");
    auto r = d.post("/v1/jobs", nlohmann::json{{"type", "transcode"}, {"input", {{"target", "webm"}}},
                                               {"files", {{"source", source}}}, {"timeoutSeconds", 2}}
                                    .dump());
    const auto job = d.wait_terminal(r.json().value("id", ""), 20s);
    EXPECT_EQ(job["error"].value("code", ""), "job-timeout");
    EXPECT_EQ(processes_mentioning(source), 0);
    EXPECT_EQ(d.log().find("ignored the stop request"), std::string::npos);
}

// An upload that names other files (an HLS playlist, an ffconcat script) must not make
// ffmpeg read them: here they name another upload, which would transcode fine alone.
TEST_F(transcode_jobs, an_upload_that_names_other_files_reads_none_of_them) {
    const std::string media_id = upload(generate("tone.ts", "-f lavfi -i sine=duration=2 -f mpegts"), "video/mp2t");
    const auto media_path = d.dir() / "state" / "uploads" / media_id;
    ASSERT_TRUE(fs::exists(media_path));
    const std::string playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2,\nfile:" + media_path.string() +
                                 "\n#EXT-X-ENDLIST\n";
    const std::string concat = "ffconcat version 1.0\nfile " + media_id + "\n";
    for (const auto& text : {playlist, concat}) {
        const auto job = d.wait_terminal(submit(upload(text, "application/octet-stream"), {{"target", "mp3"}}), 60s);
        EXPECT_EQ(job.value("status", ""), "failed") << job.dump();
        EXPECT_EQ(job["error"].value("code", ""), "transcode/not-media") << job.dump();
    }
    // The named upload itself is media.
    EXPECT_EQ(d.wait_terminal(submit(media_id, {{"target", "mp3"}}), 60s).value("status", ""), "succeeded");
}

TEST_F(transcode_jobs, ffmpeg_is_held_to_its_output_limit) {
    // 10 s of 44.1 kHz stereo PCM: 1.7 MB as WAV, over the type's outputBytes of 1 MiB.
    const auto source = upload(generate("long.wav", "-f lavfi -i sine=duration=10:sample_rate=44100 -ac 2"), "audio/wav");
    const auto job = d.wait_terminal(submit(source, {{"target", "wav"}}, "small_output"), 60s);
    EXPECT_EQ(job.value("status", ""), "failed") << job.dump();
    EXPECT_EQ(job["error"].value("code", ""), "small_output/ffmpeg-limit") << job.dump();
}
