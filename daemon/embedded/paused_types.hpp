// The job types an operator paused, kept in a file of the state directory (one name a
// line) so that a pause survives a restart. Thread-safe; the file is written on a thread
// of its own (a write is an fdatasync, which no io thread may wait for).
#pragma once

#include "system/task_pool.hpp"

#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <string>

namespace ticketd {

class paused_types {
   public:
    // Reads `file` (none: no type is paused). A line that cannot be a type's name is
    // skipped with a warning; a file that cannot be read throws std::runtime_error.
    explicit paused_types(std::filesystem::path file);

    bool contains(const std::string& type) const;
    // Pauses or resumes `type` now, then stores the set; `stored(ok, was)` runs on the
    // writer's thread once it is durable (`was`: paused before). When it could not be
    // stored the type is put back as it was first.
    void set(const std::string& type, bool paused, std::function<void(bool ok, bool was)> stored);
    // Writes still waiting are made, and no more are (the owner is going away).
    void stop() { writer_.stop(); }

   private:
    const std::filesystem::path file_;
    mutable std::mutex mutex_;
    std::set<std::string> types_;
    std::mutex write_mutex_;  // one write at a time, each of the set as it is then
    task_pool writer_{1, "td-pause"};
};

}  // namespace ticketd
