// Idempotency-Key bindings in memory, per principal. A key is either being committed
// (a concurrent request gets 409 in-progress) or bound to a job (replay or 422), or
// bound to a deleted job (409). Only a committed accept binds; failures release.
// Guarded by job_engine's mutex.
#pragma once

#include "store/job_store.hpp"

#include <map>
#include <optional>
#include <string>
#include <utility>

namespace ticketd {

class idempotency_index {
   public:
    struct entry {
        bool committing = false;
        std::string job_id;
        std::string fingerprint;
        bool job_deleted = false;
    };

    const entry* find(const std::string& principal, const std::string& key) const;
    // Claims a free key for an accept in progress.
    void reserve(const std::string& principal, const std::string& key, const std::string& fingerprint);
    void release(const std::string& principal, const std::string& key);
    void bind(const idempotency_binding& b);
    void mark_deleted(const std::string& principal, const std::string& key);
    void erase(const std::string& principal, const std::string& key);
    size_t size() const { return keys_.size(); }

   private:
    std::map<std::pair<std::string, std::string>, entry> keys_;
};

}  // namespace ticketd
