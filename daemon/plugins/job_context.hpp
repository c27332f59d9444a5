// The host's side of one running attempt: what the plugin's `ticketd_job*` points to.
// Shared state between the worker thread running the plugin and whoever asks it to stop
// (cancel requests, the timeout timer, shutdown).
#pragma once

#include "system/time.hpp"

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace ticketd {

enum class stop_reason : int { none = 0, canceled, timeout, drain };

struct run_control {
    std::atomic<int> reason{static_cast<int>(stop_reason::none)};
    // The first reason wins; later requests do not change it.
    void request_stop(stop_reason r) {
        int expected = static_cast<int>(stop_reason::none);
        reason.compare_exchange_strong(expected, static_cast<int>(r));
    }
    stop_reason stop() const { return static_cast<stop_reason>(reason.load()); }
    bool stopping() const { return stop() != stop_reason::none; }
    // Set when the job was finished without its plugin (it ignored the stop request past
    // cancel_grace) and another worker took this one's place in the pool: if the plugin
    // ever returns, its worker leaves the pool.
    std::atomic<bool> abandoned{false};
};

struct job_context {
    std::string job_id;
    std::string type;
    uint32_t attempt = 1;
    unix_ms deadline = 0;
    std::string scratch_dir;  // made on first use: most jobs never touch the disk
    bool scratch_made = false;
    void make_scratch_dir() {
        if (scratch_made) return;
        std::error_code ec;
        std::filesystem::create_directories(scratch_dir, ec);
        scratch_made = true;
    }
    std::map<std::string, std::string> input_files;
    std::shared_ptr<run_control> control;
    std::function<void(double percent, std::string message)> on_progress;
    std::function<void(int level, std::string_view message)> on_log;

    // Filled by the plugin through the host services.
    bool has_result = false;
    std::string result_type;
    std::string result;
    std::string result_file;  // set when the plugin writes its result to a file instead
    std::string result_name;  // a file name for Content-Disposition (optional)
    std::string fail_code;
    std::string fail_message;
    bool retryable = false;       // the plugin asked for another attempt (fail_retryable)
    int64_t retry_after_ms = -1;  // when, as the plugin asked (< 0: the type's backoff)
};

}  // namespace ticketd
