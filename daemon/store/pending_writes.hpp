// Writes the journal has made durable (and so were acknowledged) that the applier has not
// put into SQLite yet: lookups see them here first, so a job is never read older than what
// its client was told. A write leaves once it is applied, and only then, so a miss here
// finds it in SQLite. Thread-safe.
#pragma once

#include "store/job_write.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ticketd {

class pending_writes {
   public:
    // The write at journal `position` is acknowledged.
    void add(const std::shared_ptr<const job_write>& w, uint64_t position);
    // These writes (job_write, position) are in SQLite now.
    void applied(const std::vector<std::pair<const job_write*, uint64_t>>& writes);

    // The job as its latest pending write leaves it (gone: a removal); nullopt: ask SQLite.
    std::optional<job_lookup> find(const std::string& job_id) const;
    // The job id of a pending key binding; nullopt: ask SQLite.
    std::optional<std::string> key_job(int64_t binding_seq) const;
    // A pending result (or nullopt inside: the job was removed); nullopt: ask SQLite.
    std::optional<std::optional<std::string>> result(const std::string& job_id) const;

   private:
    struct pending_job {
        uint64_t position = 0;                         // of the latest write
        std::shared_ptr<const job_write> latest;       // its state, or its removal
        std::shared_ptr<const job_write> with_result;  // the latest that carried a result
    };
    mutable std::mutex mutex_;
    std::unordered_map<std::string, pending_job> jobs_;                      // by job id
    std::unordered_map<int64_t, std::pair<uint64_t, std::string>> keys_;  // binding seq -> (position, job id)
};

}  // namespace ticketd
