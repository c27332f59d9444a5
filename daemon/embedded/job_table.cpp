#include "embedded/job_table.hpp"

#include <algorithm>

namespace ticketd {

void job_table::remember_finished(const job_entry_ptr& e) {
    std::string().swap(e->record.input);
    finished_.emplace_back(e, ++e->cached);
    while (finished_.size() > max_cached_) {
        const auto [oldest, generation] = std::move(finished_.front());
        finished_.pop_front();
        if (generation != oldest->cached) continue;  // it came again later
        const auto key = job_key_of(oldest->record.id);
        const job_entry_ptr* found = key ? jobs_.find(*key) : nullptr;
        if (found != nullptr && *found == oldest && is_terminal(oldest->record.status) && oldest->waiters.empty()) {
            jobs_.erase(*key);
        }
    }
}

void job_table::forget_purged(const std::vector<std::string>& ids) {
    if (ids.empty()) return;
    for (const auto& id : ids) {
        auto* found = find(id);
        if (found != nullptr && is_terminal((*found)->record.status)) erase(id);
    }
    // The cache's order must not keep them alive.
    std::erase_if(finished_, [&](const auto& cached) {
        const auto* found = find(cached.first->record.id);
        return found == nullptr || *found != cached.first;
    });
}

}  // namespace ticketd
