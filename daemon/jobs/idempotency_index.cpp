#include "jobs/idempotency_index.hpp"

namespace ticketd {

const idempotency_index::entry* idempotency_index::find(const std::string& principal,
                                                        const std::string& key) const {
    auto it = keys_.find({principal, key});
    return it == keys_.end() ? nullptr : &it->second;
}

void idempotency_index::reserve(const std::string& principal, const std::string& key,
                                const std::string& fingerprint) {
    keys_[{principal, key}] = entry{true, {}, fingerprint, false};
}

void idempotency_index::release(const std::string& principal, const std::string& key) {
    auto it = keys_.find({principal, key});
    if (it != keys_.end() && it->second.committing) keys_.erase(it);
}

void idempotency_index::bind(const idempotency_binding& b) {
    keys_[{b.principal, b.key}] = entry{false, b.job_id, b.fingerprint, b.job_deleted};
}

void idempotency_index::mark_deleted(const std::string& principal, const std::string& key) {
    auto it = keys_.find({principal, key});
    if (it != keys_.end()) it->second.job_deleted = true;
}

void idempotency_index::erase(const std::string& principal, const std::string& key) {
    keys_.erase({principal, key});
}

}  // namespace ticketd
