// One line per event on stderr. Under journald (JOURNAL_STREAM set) lines carry the
// <N> syslog priority prefix so journald records the level.
#pragma once

#include <string_view>

namespace ticketd {

enum class log_level { debug = 7, info = 6, warning = 4, error = 3 };

void log_line(log_level level, std::string_view message);
void set_min_log_level(log_level level);

inline void log_info(std::string_view m) { log_line(log_level::info, m); }
inline void log_warning(std::string_view m) { log_line(log_level::warning, m); }
inline void log_error(std::string_view m) { log_line(log_level::error, m); }

}  // namespace ticketd
