#include "embedded/job_table.hpp"

#include <algorithm>

namespace ticketd {

void job_table::remember_finished(const job_entry_ptr& e) {
    std::string().swap(e->record.input);
    finished_.push_back(e);
    while (finished_.size() > max_cached_) {
        const job_entry_ptr oldest = std::move(finished_.front());
        finished_.pop_front();
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
    std::erase_if(finished_, [&](const job_entry_ptr& e) {
        const auto* found = find(e->record.id);
        return found == nullptr || *found != e;
    });
}

}  // namespace ticketd
