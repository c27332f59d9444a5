// Runs a program as a child process for the transcode plugin: an argument vector (never a
// shell), its own process group (so a stop reaches everything it started), stdin from
// /dev/null, stdout read line by line, the tail of stderr kept for error messages, and a
// stop request that sends SIGTERM to the group, then SIGKILL after a grace period.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace plugins::transcode {

struct child_result {
    int exit_code = -1;       // when it exited
    int signal = 0;           // when a signal ended it
    bool stopped = false;     // should_stop() asked for it to end
    std::string stderr_tail;  // the last bytes it wrote to stderr
};

struct child_options {
    std::vector<std::string> argv;  // argv[0] is the program's absolute path
    std::string working_dir;
    std::function<void(const std::string& line)> on_stdout_line;  // may be empty
    std::function<bool()> should_stop;                             // polled every 100 ms
    std::chrono::milliseconds kill_grace{3000};
    size_t stderr_tail_bytes = 4096;
    // Resource limits of the child (0: none): CPU seconds (SIGXCPU past it), address space
    // bytes (allocations fail past it), bytes of any file it writes (SIGXFSZ past it).
    uint64_t cpu_seconds = 0;
    uint64_t address_space_bytes = 0;
    uint64_t file_size_bytes = 0;
};

// Throws std::system_error when the program cannot be started.
child_result run_child(const child_options& options);

}  // namespace plugins::transcode
