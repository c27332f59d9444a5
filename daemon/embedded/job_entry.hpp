// A job as the engine holds it in memory. Guarded by job_engine's mutex.
#pragma once

#include "model/job.hpp"
#include "plugins/job_context.hpp"
#include "system/hex.hpp"
#include "system/scheduler.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

namespace ticketd {

// A long-poll waiting for the job to change (etag set) or to end (etag empty).
struct job_waiter {
    std::string etag;
    std::function<void(const job_record*, bool gone)> wake;  // called outside the lock
    std::shared_ptr<scheduled_call> deadline;
};

// Where a job waits in its type's queue; guarded by that queue's mutex.
struct queue_slot {
    bool queued = false;
    bool delayed = false;              // in the retry-backoff set, not yet ready
    bool scheduled = false;            // in the scheduled set (status scheduled), not queued yet
    std::pair<int64_t, uint64_t> key;  // ready: (-priority, seq); delayed, scheduled: (not_before, seq)
};

struct job_entry {
    job_record record;
    bool deleted = false;     // hidden at once by DELETE; the row goes when it commits
    bool finalizing = false;  // a terminal state is being committed: no other writes
    bool counted_live = false;  // in its principal's count of live jobs (quotas.max_live_jobs)
    bool cancel_after_commit = false;  // a cancel came while its attempt's end was committing
    uint32_t cached = 0;  // times it joined job_table's cache of finished jobs (a re-run ends again)
    std::shared_ptr<run_control> control;       // while running
    std::map<uint64_t, job_waiter> waiters;     // long-polls to wake on change
    queue_slot queue_position;
};

using job_entry_ptr = std::shared_ptr<job_entry>;

// The engine's table of jobs is keyed by the 128 bits a job id spells in hex (16 bytes,
// not a 32-character string with a heap copy per job).
struct job_key {
    uint64_t hi = 0;
    uint64_t lo = 0;
    bool operator==(const job_key&) const = default;
};
struct job_key_hash {
    using is_avalanching = void;  // an id is AES-128 output: its bits are uniform already
    size_t operator()(const job_key& k) const noexcept { return static_cast<size_t>(k.lo ^ (k.hi >> 1)); }
};
struct job_key_shard {  // sharded_map's table: hi's bits (the hash is uniform without them: lo is)
    size_t operator()(const job_key& k) const noexcept { return static_cast<size_t>(k.hi); }
};
// nullopt unless `id` is 32 lowercase hex digits (every id ticketd makes).
inline std::optional<job_key> job_key_of(std::string_view id) {
    uint8_t bytes[16];
    if (id.size() != 32 || !from_hex(id, bytes)) return std::nullopt;
    job_key k;
    for (int i = 0; i < 8; ++i) {
        k.hi = k.hi << 8 | bytes[i];
        k.lo = k.lo << 8 | bytes[8 + i];
    }
    return k;
}

}  // namespace ticketd
