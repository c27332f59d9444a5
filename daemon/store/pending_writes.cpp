#include "store/pending_writes.hpp"

namespace ticketd {

void pending_writes::add(const std::shared_ptr<const job_write>& w, uint64_t position) {
    std::lock_guard lock(mutex_);
    auto& p = jobs_[w->job_id()];
    p.position = position;
    p.latest = w;
    if (w->result) p.with_result = w;
    if (w->what == job_write::kind::remove) p.with_result.reset();
    if (w->key) keys_[w->key->seq] = {position, w->key->job_id};
}

void pending_writes::applied(const std::vector<std::pair<const job_write*, uint64_t>>& writes) {
    std::lock_guard lock(mutex_);
    for (const auto& [w, position] : writes) {
        // Only if no later write replaced it meanwhile (that one is still to be applied).
        if (const auto it = jobs_.find(w->job_id()); it != jobs_.end() && it->second.position <= position) {
            jobs_.erase(it);
        }
        if (w->key) {
            const auto it = keys_.find(w->key->seq);
            if (it != keys_.end() && it->second.first <= position) keys_.erase(it);
        }
    }
}

std::optional<job_lookup> pending_writes::find(const std::string& job_id) const {
    std::lock_guard lock(mutex_);
    const auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return std::nullopt;
    job_lookup out;
    const auto& latest = *it->second.latest;
    if (latest.what == job_write::kind::remove) {
        out.gone = true;
        out.gone_principal = latest.removal.principal;
    } else {
        out.job = latest.job;
    }
    return out;
}

std::optional<std::string> pending_writes::key_job(int64_t binding_seq) const {
    std::lock_guard lock(mutex_);
    const auto it = keys_.find(binding_seq);
    if (it == keys_.end()) return std::nullopt;
    return it->second.second;
}

std::optional<std::optional<std::string>> pending_writes::result(const std::string& job_id) const {
    std::lock_guard lock(mutex_);
    const auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return std::nullopt;
    if (it->second.with_result) return *it->second.with_result->result;
    if (it->second.latest->what == job_write::kind::remove) return std::optional<std::string>();
    return std::nullopt;
}

}  // namespace ticketd
