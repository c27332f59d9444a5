#include "system/log.hpp"

#include "system/time.hpp"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace ticketd {

namespace {
std::mutex log_mutex;
int min_level = static_cast<int>(log_level::info);
const bool under_journald = std::getenv("JOURNAL_STREAM") != nullptr;

const char* level_name(log_level level) {
    switch (level) {
        case log_level::debug: return "debug";
        case log_level::info: return "info";
        case log_level::warning: return "warning";
        case log_level::error: return "error";
    }
    return "info";
}
}  // namespace

void set_min_log_level(log_level level) { min_level = static_cast<int>(level); }

void log_line(log_level level, std::string_view message) {
    if (static_cast<int>(level) > min_level) return;
    std::string line;
    if (under_journald) {
        line = "<" + std::to_string(static_cast<int>(level)) + ">";
    } else {
        line = format_rfc3339(now_unix_ms()) + " " + level_name(level) + " ";
    }
    // One message, one line: a control character (a newline in text a client chose) is
    // shown as '?', so that nobody can forge a line (or its journald priority).
    for (const char c : message) line.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
    line.push_back('\n');
    std::lock_guard lock(log_mutex);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

}  // namespace ticketd
