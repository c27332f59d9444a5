// The embedded backend's jobs in memory: every unfinished job, and the most recently
// finished ones (up to max_cached_jobs, the oldest evicted first), so that the polls of a
// job that just ended are answered without the store. Guarded by the backend's mutex.
#pragma once

#include "embedded/job_entry.hpp"
#include "embedded/sharded_map.hpp"

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace ticketd {

class job_table {
   public:
    explicit job_table(uint64_t max_cached_finished) : max_cached_(max_cached_finished) {}

    // The job with the id `id` (null if there is none, or `id` is malformed). Valid until
    // the next insert, which may move entries.
    job_entry_ptr* find(std::string_view id) {
        const auto key = job_key_of(id);
        return key ? jobs_.find(*key) : nullptr;
    }
    // `e` under its id (made by the store: 32 hex digits), replacing what was there.
    void put(const job_entry_ptr& e) { jobs_[*job_key_of(e->record.id)] = e; }
    void erase(std::string_view id) {
        if (const auto key = job_key_of(id)) jobs_.erase(*key);
    }
    void reserve(size_t jobs) { jobs_.reserve(jobs); }
    template <class F>
    void for_each(F&& f) const {
        jobs_.for_each([&](const job_key&, const job_entry_ptr& e) { f(e); });
    }

    // `e` reached a terminal state: its input is dropped (only a run needs it, and the
    // store keeps it) and it joins the cache of finished jobs, evicting the oldest.
    void remember_finished(const job_entry_ptr& e);
    // The store purged these jobs: gone from memory too (a live one with a reused id stays).
    void forget_purged(const std::vector<std::string>& ids);

   private:
    const uint64_t max_cached_;
    sharded_map<job_key, job_entry_ptr, job_key_hash, job_key_shard> jobs_;
    // The cached finished jobs, oldest first, each with its job_entry::cached when it came
    // (a re-run job that ended again is in it twice: only its latest place counts).
    std::deque<std::pair<job_entry_ptr, uint32_t>> finished_;
};

}  // namespace ticketd
