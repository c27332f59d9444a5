#include "child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <thread>

extern char** environ;

namespace plugins::transcode {

namespace {

struct fd {
    int value = -1;
    ~fd() { reset(); }
    void reset() {
        if (value >= 0) ::close(value);
        value = -1;
    }
};

void make_pipe(fd& read_end, fd& write_end) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
    read_end.value = p[0];
    write_end.value = p[1];
}

// True once the child has exited; it stays a zombie (not reaped), so its pid, and with it
// the process group id, cannot be reused while the group is cleaned up.
bool exited(pid_t pid, bool block) {
    siginfo_t info{};
    for (;;) {
        const int rc = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT | (block ? 0 : WNOHANG));
        if (rc == 0) return info.si_pid == pid;
        if (errno != EINTR) return true;
    }
}

// Kills whatever is left in the group, then reaps the child.
int reap(pid_t pid) {
    ::kill(-pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

// Ends the whole process group: SIGTERM, then SIGKILL once the grace has passed.
int stop_group(pid_t pid, std::chrono::milliseconds grace) {
    ::kill(-pid, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (std::chrono::steady_clock::now() < deadline && !exited(pid, false)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return reap(pid);
}

}  // namespace

child_result run_child(const child_options& o) {
    fd out_r, out_w, err_r, err_w;
    make_pipe(out_r, out_w);
    make_pipe(err_r, err_w);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_w.value, 1);
    posix_spawn_file_actions_adddup2(&actions, err_w.value, 2);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);  // none of the daemon's sockets or files
    if (!o.working_dir.empty()) posix_spawn_file_actions_addchdir_np(&actions, o.working_dir.c_str());

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);  // its own group, led by the child
    sigset_t none, defaults;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    sigemptyset(&defaults);  // the daemon ignores SIGPIPE and handles these: the child must not
    for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&defaults, s);
    posix_spawnattr_setsigdefault(&attr, &defaults);

    std::vector<char*> argv;
    for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) throw std::system_error(rc, std::generic_category(), "cannot start " + o.argv[0]);
    // posix_spawn cannot set them, so they are applied the moment it returns: the child has
    // just exec'd and runs unlimited for that moment only. The CPU limit's soft value comes
    // first (SIGXCPU), its hard one (SIGKILL) 5 s later.
    for (const auto& [resource, value] : {std::pair{RLIMIT_CPU, o.cpu_seconds}, std::pair{RLIMIT_AS, o.address_space_bytes},
                                          std::pair{RLIMIT_FSIZE, o.file_size_bytes}}) {
        if (value == 0) continue;
        const rlimit limit{value, resource == RLIMIT_CPU ? value + 5 : value};
        if (::prlimit(pid, resource, &limit, nullptr) != 0) {
            const int error = errno;
            ::kill(-pid, SIGKILL);  // a child that cannot be limited does not run
            int ignored = 0;
            ::waitpid(pid, &ignored, 0);
            throw std::system_error(error, std::generic_category(), "cannot limit " + o.argv[0]);
        }
    }
    out_w.reset();
    err_w.reset();

    child_result result;
    std::string line;
    int status = 0;
    bool reaped = false;
    pollfd fds[2] = {{out_r.value, POLLIN, 0}, {err_r.value, POLLIN, 0}};
    char buf[8192];
    while (fds[0].fd >= 0 || fds[1].fd >= 0) {
        if (o.should_stop && o.should_stop()) {
            result.stopped = true;
            status = stop_group(pid, o.kill_grace);
            reaped = true;
            break;
        }
        const int n = ::poll(fds, 2, 100);
        if (n < 0 && errno != EINTR) break;
        for (int i = 0; i < 2 && n > 0; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
            if (got <= 0) {
                if (got < 0 && errno == EINTR) continue;
                fds[i].fd = -1;  // closed: the child is done with it
                continue;
            }
            if (i == 0) {
                for (ssize_t k = 0; k < got; ++k) {
                    if (buf[k] == '\n') {
                        if (o.on_stdout_line) o.on_stdout_line(line);
                        line.clear();
                    } else if (line.size() < 4096) {
                        line += buf[k];
                    }
                }
            } else {
                result.stderr_tail.append(buf, static_cast<size_t>(got));
                if (result.stderr_tail.size() > 2 * o.stderr_tail_bytes) {
                    result.stderr_tail.erase(0, result.stderr_tail.size() - o.stderr_tail_bytes);
                }
            }
        }
    }
    if (!reaped) {
        exited(pid, true);
        status = reap(pid);  // and any grandchild that outlived it
    }
    if (result.stderr_tail.size() > o.stderr_tail_bytes) {
        result.stderr_tail.erase(0, result.stderr_tail.size() - o.stderr_tail_bytes);
    }
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
    return result;
}

}  // namespace plugins::transcode
