// A job type as this node runs it: its configuration, its plugin's handler, its queue
// (the backend's), the pool that validates its inputs and its worker threads; and the
// registry of the types the node serves.
#pragma once

#include "config/config.hpp"
#include "jobs/job_backend.hpp"
#include "jobs/job_events.hpp"
#include "plugins/job_handler.hpp"
#include "system/task_pool.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ticketd {

struct job_type_runtime {
    explicit job_type_runtime(job_type_config c)
        : type(c.type), config_(std::make_shared<const job_type_config>(std::move(c))) {}

    // Limits and the pool size may change on reload; the plugin and settings never do (a
    // type whose plugin or settings change is replaced by a new runtime).
    std::shared_ptr<const job_type_config> config() const {
        std::lock_guard lock(config_mutex_);
        return config_;
    }
    void set_config(std::shared_ptr<const job_type_config> c) {
        std::lock_guard lock(config_mutex_);
        config_ = std::move(c);
    }

    const std::string type;
    std::unique_ptr<job_handler> handler;
    // Made by the backend when the engine takes the type in (job_backend::make_queue).
    std::shared_ptr<work_queue> queue;
    // Runs the plugin's validate() off the io threads, one pool per type so that a slow
    // validator holds up only its own type's submits (validate_threads; 0: on the io thread).
    std::unique_ptr<task_pool> validations;
    // Its worker threads, including those that retired after a pool shrank and those
    // abandoned inside a plugin; guarded by workers_mutex (a replacement for an abandoned
    // one is started from the timer thread).
    std::vector<std::thread> workers;
    std::mutex workers_mutex;
    std::vector<std::thread> take_workers() {
        std::lock_guard lock(workers_mutex);
        return std::exchange(workers, {});
    }
    std::atomic<unsigned> busy{0};
    job_type_events* events = nullptr;  // what happens to it is reported here (metrics/)

   private:
    mutable std::mutex config_mutex_;
    std::shared_ptr<const job_type_config> config_;
};

using job_type_ptr = std::shared_ptr<job_type_runtime>;

// What the backend and the attempt runner need of a type's configuration.
inline job_type_rules rules_of(const job_type_config& c) { return {c.retention.count(), c.retry}; }
// Creates (loads the plugin of) a job type; throws with a message naming the file.
using job_type_factory = std::function<job_type_ptr(const job_type_config&)>;

// The job types this node serves, replaced whole on reload. Thread-safe.
class type_registry {
   public:
    explicit type_registry(std::vector<job_type_ptr> types) : types_(std::move(types)) {}
    job_type_ptr find(const std::string& type) const {
        std::shared_lock lock(mutex_);
        for (const auto& rt : types_) {
            if (rt->type == type) return rt;
        }
        return nullptr;
    }
    std::vector<job_type_ptr> snapshot() const {
        std::shared_lock lock(mutex_);
        return types_;
    }
    void replace(std::vector<job_type_ptr> next) {
        std::unique_lock lock(mutex_);
        types_ = std::move(next);
    }

   private:
    mutable std::shared_mutex mutex_;
    std::vector<job_type_ptr> types_;
};

}  // namespace ticketd
