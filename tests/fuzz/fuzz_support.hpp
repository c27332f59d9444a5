// Small helpers shared by the fuzz harnesses: a scratch directory (on /dev/shm when it
// exists, so the many small writes cost no disk syncs) and whole-file writes.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace ticketd::fuzz {

// A fresh directory for this process, removed by no one: libFuzzer ends with _exit.
inline std::filesystem::path scratch_dir(const char* name) {
    const std::filesystem::path base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string tmpl = (base / (std::string("ticketd-fuzz-") + name + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
        std::perror("mkdtemp");
        std::abort();
    }
    return tmpl;
}

inline void write_file(const std::filesystem::path& file, std::string_view bytes) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
        std::perror(file.c_str());
        std::abort();
    }
}

// Stops the run with a message: libFuzzer records the input as a crash.
[[noreturn]] inline void violated(const std::string& what) {
    std::fprintf(stderr, "invariant violated: %s\n", what.c_str());
    std::abort();
}

}  // namespace ticketd::fuzz
