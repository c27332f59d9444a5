// Small helpers the embedded backend's files share (embedded_backend.cpp, accept.cpp,
// cancel_remove.cpp, attempts.cpp, recovery.cpp). Not for use outside embedded/.
#pragma once

#include "model/job.hpp"
#include "system/log.hpp"

#include <functional>
#include <string>
#include <vector>

namespace ticketd::embedded_detail {

inline void run_all(std::vector<std::function<void()>>& fns) {
    for (auto& fn : fns) fn();
}

inline void log_write_failure(const std::string& what, bool ok, const std::string& error) {
    if (!ok) log_error("store: " + what + " failed: " + error);
}

inline std::string job_tag(const job_record& r) { return "job=" + r.id + " type=" + r.type; }

}  // namespace ticketd::embedded_detail
