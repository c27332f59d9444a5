// transcode: converts an uploaded audio or video file with ffmpeg (Debian's package), run
// as a child process with an argument list built only from whitelisted choices. The input
// is probed first (ffprobe) so non-media fails with a clear error; progress comes from
// ffmpeg's -progress output against the probed duration; cancel and timeout end the
// child's whole process group; a failure carries the tail of ffmpeg's stderr. The output
// is written in the attempt's scratch directory and becomes the job's result file.
#include "child_process.hpp"

#include <nlohmann/json.hpp>
#include <ticketd/plugin.hpp>

#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace {

using nlohmann::json;
using plugins::transcode::child_options;
using plugins::transcode::run_child;

constexpr const char* settings_schema = R"json({
  "type": "object",
  "properties": {
    "ffmpeg": {"type": "string", "default": "/usr/bin/ffmpeg"},
    "ffprobe": {"type": "string", "default": "/usr/bin/ffprobe"},
    "threads": {"type": "integer", "minimum": 0, "maximum": 64, "default": 0,
                "description": "ffmpeg -threads (0: ffmpeg chooses)"},
    "maxDurationSeconds": {"type": "number", "exclusiveMinimum": 0, "default": 21600},
    "killGraceMs": {"type": "integer", "minimum": 0, "maximum": 60000, "default": 3000},
    "cpuSeconds": {"type": "integer", "minimum": 1, "default": 21600,
                   "description": "CPU time ffmpeg/ffprobe may use per run (RLIMIT_CPU)"},
    "memoryBytes": {"type": "integer", "minimum": 67108864, "default": 4294967296,
                    "description": "address space ffmpeg/ffprobe may map (RLIMIT_AS)"},
    "outputBytes": {"type": "integer", "minimum": 1048576, "default": 17179869184,
                    "description": "the largest file ffmpeg may write (RLIMIT_FSIZE)"}
  },
  "additionalProperties": false
})json";

// The one file a job reads: whatever ffprobe will take, as clients label it (a file of
// another media type is refused at submit; ffprobe still decides what is media).
constexpr const char* files = R"json({
  "source": {"required": true, "description": "the audio or video to convert",
             "mediaTypes": ["audio/*", "video/*", "application/ogg", "application/octet-stream"]}
})json";

constexpr const char* input_schema = R"json({
  "type": "object",
  "required": ["target"],
  "properties": {
    "file": {"const": "source",
             "description": "the upload's name in files: always source, the file declared (before 1.1.0, any name)"},
    "target": {"enum": ["mp3", "opus", "ogg", "flac", "wav", "mp4", "webm"]},
    "audioBitrateKbps": {"type": "integer", "minimum": 8, "maximum": 512},
    "sampleRate": {"enum": [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 96000]},
    "channels": {"enum": [1, 2]},
    "maxHeight": {"type": "integer", "minimum": 144, "maximum": 2160, "description": "video: scale down to at most this"},
    "videoBitrateKbps": {"type": "integer", "minimum": 100, "maximum": 50000},
    "outputName": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._ -]{0,99}$", "default": "transcoded",
                   "description": "the result's file name, without extension"}
  },
  "additionalProperties": false
})json";

struct target_spec {
    bool video;
    const char* format;        // ffmpeg -f
    const char* content_type;  // the result's media type
    std::vector<std::string> codec_args;
    bool lossless;  // no bitrate choice
};

const std::map<std::string, target_spec>& targets() {
    static const std::map<std::string, target_spec> t = {
        {"mp3", {false, "mp3", "audio/mpeg", {"-c:a", "libmp3lame"}, false}},
        {"opus", {false, "ogg", "audio/ogg; codecs=opus", {"-c:a", "libopus"}, false}},
        {"ogg", {false, "ogg", "audio/ogg; codecs=vorbis", {"-c:a", "libvorbis"}, false}},
        {"flac", {false, "flac", "audio/flac", {"-c:a", "flac"}, true}},
        {"wav", {false, "wav", "audio/wav", {"-c:a", "pcm_s16le"}, true}},
        {"mp4", {true, "mp4", "video/mp4",
                 {"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart"}, false}},
        {"webm", {true, "webm", "video/webm",
                  {"-c:v", "libvpx-vp9", "-row-mt", "1", "-deadline", "good", "-cpu-used", "4", "-c:a", "libopus"}, false}},
    };
    return t;
}

// What ffprobe found.
struct probe {
    double duration = 0;  // seconds; 0 when unknown
    bool audio = false;
    bool video = false;   // a real video stream, not a cover picture
    std::string summary;  // e.g. "mov,mp4: h264 320x240, aac"
};

std::string tail_lines(const std::string& text, size_t max_lines) {
    size_t end = text.size();
    while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r')) --end;
    size_t start = end, lines = 0;
    while (start > 0 && lines < max_lines) {
        --start;
        if (text[start] == '\n' && ++lines == max_lines) {
            ++start;
            break;
        }
    }
    return text.substr(start, end - start);
}

// Options before every input, for ffprobe and ffmpeg alike. An upload is read as one
// local file of a single-file container: only the file protocol, and only demuxers that
// never open anything else (no hls, dash, concat/ffconcat, image sequences, playlists),
// so an upload cannot make ffmpeg read other files of the host or other clients' uploads.
// mov's external data references stay off (its enable_drefs default).
const std::vector<std::string> input_guards = {
    "-protocol_whitelist", "file",
    "-format_whitelist",
    "aac,ac3,aiff,amr,ape,asf,au,avi,caf,dts,eac3,flac,flv,gsm,h264,hevc,ivf,m4v,matroska,mov,mp3,mpeg,"
    "mpegts,mpegvideo,ogg,tta,voc,w64,wav,wv",
};

class transcoder final : public ticketd::handler {
   public:
    explicit transcoder(std::string_view settings_json) {
        const auto s = json::parse(settings_json);
        ffmpeg_ = s.value("ffmpeg", "/usr/bin/ffmpeg");
        ffprobe_ = s.value("ffprobe", "/usr/bin/ffprobe");
        threads_ = s.value("threads", 0);
        max_duration_ = s.value("maxDurationSeconds", 21600.0);
        kill_grace_ = std::chrono::milliseconds(s.value("killGraceMs", 3000));
        cpu_seconds_ = s.value("cpuSeconds", uint64_t{21600});
        memory_bytes_ = s.value("memoryBytes", uint64_t{4} << 30);
        output_bytes_ = s.value("outputBytes", uint64_t{16} << 30);
        for (const auto& [key, path] : {std::pair{"ffmpeg", ffmpeg_}, std::pair{"ffprobe", ffprobe_}}) {
            if (path.empty() || path[0] != '/' || ::access(path.c_str(), X_OK) != 0) {
                throw std::runtime_error(std::string(key) + " '" + path +
                                         "' is not an executable absolute path; install Debian's ffmpeg package "
                                         "or set '" + key + "' in the settings");
            }
        }
    }

    void validate(std::string_view input_json, ticketd::validation& v) override {
        const auto in = json::parse(input_json);
        const auto& spec = targets().at(in.at("target").get<std::string>());
        if (!spec.video) {
            if (in.contains("maxHeight")) v.add("/maxHeight", "applies to video targets (mp4, webm) only");
            if (in.contains("videoBitrateKbps")) v.add("/videoBitrateKbps", "applies to video targets (mp4, webm) only");
        }
        if (spec.lossless && in.contains("audioBitrateKbps")) {
            v.add("/audioBitrateKbps", "flac and wav are lossless: they take no bitrate");
        }
        const bool opus = in["target"] == "opus" || in["target"] == "webm";
        if (opus && in.contains("sampleRate")) {
            const int rate = in["sampleRate"].get<int>();
            if (rate != 8000 && rate != 12000 && rate != 16000 && rate != 24000 && rate != 48000) {
                v.add("/sampleRate", "Opus supports 8000, 12000, 16000, 24000 and 48000 Hz");
            }
        }
    }

    void run(ticketd::job& job) override {
        const auto in = json::parse(job.input());
        const std::string target = in.at("target").get<std::string>();
        const auto& spec = targets().at(target);
        // `source` is declared required; a job accepted before it was (another name, or
        // none) or a host that does not check declared files can still arrive without it.
        const std::string file_name = in.value("file", "source");
        const std::string input(job.input_file(file_name));
        if (input.empty()) {
            throw ticketd::job_failed("no-file", "the job has no file named '" + file_name +
                                                     "'; submit it with \"files\": {\"source\": \"<upload id>\"}");
        }

        job.progress(1, "probing the input");
        const probe p = probe_input(job, input);
        if (spec.video && !p.video) {
            throw ticketd::job_failed("no-video", "target " + target + " needs a video stream; the input has none (" + p.summary + ")");
        }
        if (!spec.video && !p.audio) {
            throw ticketd::job_failed("no-audio", "target " + target + " needs an audio stream; the input has none (" + p.summary + ")");
        }
        if (p.duration > max_duration_) {
            throw ticketd::job_failed("too-long", "the input lasts " + std::to_string(static_cast<long>(p.duration)) +
                                                      " s; this job type accepts at most " +
                                                      std::to_string(static_cast<long>(max_duration_)) + " s");
        }

        const std::string output = job.result_file(spec.content_type);
        job.set_result_name(in.value("outputName", "transcoded") + "." + (target == "opus" ? "opus" : target));
        std::vector<std::string> args = {ffmpeg_, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error",
                                         "-progress", "pipe:1", "-y"};
        args.insert(args.end(), input_guards.begin(), input_guards.end());
        args.insert(args.end(), {"-i", "file:" + input});
        if (threads_ > 0) args.insert(args.end(), {"-threads", std::to_string(threads_)});
        if (spec.video) {
            args.insert(args.end(), {"-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn"});
        } else {
            args.insert(args.end(), {"-map", "0:a:0", "-vn", "-sn", "-dn"});
        }
        args.insert(args.end(), spec.codec_args.begin(), spec.codec_args.end());
        if (in.contains("audioBitrateKbps")) args.insert(args.end(), {"-b:a", std::to_string(in["audioBitrateKbps"].get<int>()) + "k"});
        if (in.contains("sampleRate")) args.insert(args.end(), {"-ar", std::to_string(in["sampleRate"].get<int>())});
        if (in.contains("channels")) args.insert(args.end(), {"-ac", std::to_string(in["channels"].get<int>())});
        if (spec.video) {
            if (in.contains("videoBitrateKbps")) {
                args.insert(args.end(), {"-b:v", std::to_string(in["videoBitrateKbps"].get<int>()) + "k"});
            } else if (target == "webm") {
                args.insert(args.end(), {"-b:v", "0", "-crf", "33"});  // constant quality
            } else {
                args.insert(args.end(), {"-crf", "23"});
            }
            // Never upscale; keep the width even (yuv420p needs it).
            const int height = in.value("maxHeight", 0);
            if (height > 0) args.insert(args.end(), {"-vf", "scale=-2:'min(ih," + std::to_string(height) + ")'"});
        }
        args.insert(args.end(), {"-f", spec.format, "file:" + output});

        job.progress(2, "transcoding to " + target);
        child_options o = limited();
        o.argv = args;
        o.working_dir = std::string(job.scratch_dir());
        o.kill_grace = kill_grace_;
        o.should_stop = [&job] { return job.canceled(); };
        o.on_stdout_line = [&job, &p](const std::string& line) {
            // -progress: key=value lines; out_time_us is the output position.
            if (line.rfind("out_time_us=", 0) != 0 || p.duration <= 0) return;
            const double seconds = std::strtod(line.c_str() + 12, nullptr) / 1e6;
            if (!(seconds > 0)) return;
            char message[96];
            std::snprintf(message, sizeof message, "transcoding: %.1f s of %.1f s", seconds, p.duration);
            job.progress(std::min(99.0, 2.0 + 97.0 * seconds / p.duration), message);
        };
        const auto r = run_child(o);
        if (r.stopped) throw ticketd::job_canceled();
        if (r.signal == SIGXFSZ) {
            throw ticketd::job_failed("ffmpeg-limit", "the output reached its " + std::to_string(output_bytes_) +
                                                          " bytes (setting outputBytes)");
        }
        if (r.exit_code != 0) {
            const std::string how = r.signal ? "was killed by signal " + std::to_string(r.signal)
                                             : "exited with status " + std::to_string(r.exit_code);
            throw ticketd::job_failed("ffmpeg-failed", "ffmpeg " + how + ": " + tail_lines(r.stderr_tail, 12));
        }
        std::error_code ec;
        if (std::filesystem::file_size(output, ec) == 0 || ec) {
            throw ticketd::job_failed("ffmpeg-failed", "ffmpeg wrote no output: " + tail_lines(r.stderr_tail, 12));
        }
        job.progress(100, "done");
    }

   private:
    probe probe_input(ticketd::job& job, const std::string& input) const {
        child_options o = limited();
        o.argv = {ffprobe_, "-v", "error", "-print_format", "json", "-show_format", "-show_streams"};
        o.argv.insert(o.argv.end(), input_guards.begin(), input_guards.end());
        o.argv.push_back("file:" + input);
        o.working_dir = std::string(job.scratch_dir());
        o.kill_grace = kill_grace_;
        o.should_stop = [&job] { return job.canceled(); };
        std::string out;
        o.on_stdout_line = [&out](const std::string& line) {
            if (out.size() < (4 << 20)) out += line + "\n";
        };
        const auto r = run_child(o);
        if (r.stopped) throw ticketd::job_canceled();
        const auto doc = json::parse(out, nullptr, false);
        if (r.exit_code != 0 || doc.is_discarded() || !doc.contains("streams") || doc["streams"].empty()) {
            const std::string why = tail_lines(r.stderr_tail, 3);
            throw ticketd::job_failed("not-media", "the input is not an audio or video file ffprobe can read" +
                                                       (why.empty() ? std::string() : ": " + why));
        }
        probe p;
        const auto& format = doc.value("format", json::object());
        p.duration = std::strtod(format.value("duration", "0").c_str(), nullptr);
        p.summary = format.value("format_name", "?") + ":";
        for (const auto& s : doc["streams"]) {
            const std::string type = s.value("codec_type", "");
            const bool picture = s.contains("disposition") && s["disposition"].value("attached_pic", 0) == 1;
            if (type == "audio") p.audio = true;
            if (type == "video" && !picture) p.video = true;
            if (type == "audio" || type == "video") {
                p.summary += " " + s.value("codec_name", "?");
                if (type == "video") p.summary += " " + std::to_string(s.value("width", 0)) + "x" + std::to_string(s.value("height", 0));
            }
        }
        if (!std::isfinite(p.duration) || p.duration < 0) p.duration = 0;
        return p;
    }

    child_options limited() const {
        child_options o;
        o.cpu_seconds = cpu_seconds_;
        o.address_space_bytes = memory_bytes_;
        o.file_size_bytes = output_bytes_;
        return o;
    }

    std::string ffmpeg_, ffprobe_;
    uint64_t cpu_seconds_ = 0, memory_bytes_ = 0, output_bytes_ = 0;
    int threads_ = 0;
    double max_duration_ = 21600;
    std::chrono::milliseconds kill_grace_{3000};
};

}  // namespace

TICKETD_PLUGIN_WITH_FILES(transcoder, "transcode", "1.1.0", "Apache-2.0",
                          "Converts an audio or video upload with ffmpeg (mp3, opus, ogg, flac, wav, mp4/h264, webm/vp9)",
                          settings_schema, input_schema, files)
