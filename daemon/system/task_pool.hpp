// A few threads that run posted tasks in order of arrival: work that must not run on an
// io thread because it may block (a plugin's validate()). A task runs with its poster's
// this_thread_origin (system/thread_origin.hpp), so store writes it makes are answered
// where it came from.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace ticketd {

class task_pool {
   public:
    // `threads` named `name` (0: post() runs each task at once on the caller's thread).
    task_pool(unsigned threads, const std::string& name);
    ~task_pool();  // stop()
    task_pool(const task_pool&) = delete;
    task_pool& operator=(const task_pool&) = delete;

    void post(std::function<void()> task);
    // Runs what was posted, then joins the threads; later posts run on the caller's
    // thread. Called from one of the pool's own tasks (whose last reference to the pool's
    // owner went), that thread is left to finish by itself instead.
    void stop();

   private:
    struct state;
    std::shared_ptr<state> state_;  // shared with the threads: it outlives a detached one
    std::vector<std::thread> threads_;
};

}  // namespace ticketd
