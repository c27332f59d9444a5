// The narrow seam between the job engine and durable storage. The embedded
// implementation is SQLite (sqlite_store); a networked one can come later.
//
// Writes are queued and applied in order; `done` runs once the write is durable (or
// failed), on the store's own thread: it must not block. Reads answer on the store's
// reader thread, never on the caller's (read_result excepted: see there).
#pragma once

#include "model/job.hpp"
#include "model/job_query.hpp"
#include "model/upload.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ticketd {

struct idempotency_binding {
    std::string principal;
    std::string key;
    std::string job_id;
    std::string fingerprint;
    bool job_deleted = false;
    unix_ms expires_at = 0;
    // The bound job's seq, which is also the binding's row in the store: found by it, not
    // through a B-tree of random keys. (Negative for a binding from before schema 6
    // whose job was already gone.)
    int64_t seq = 0;
};

struct tombstone {
    std::string job_id;
    std::string type;
    unix_ms deleted_at = 0;
    unix_ms expires_at = 0;
    // Whose job it was: to everyone else a tombstone is as absent as the job (schema 7;
    // tombstones and journal removals from before it belong to "anonymous").
    std::string principal = "anonymous";
};

// What the store found for an id.
struct job_lookup {
    std::optional<job_record> job;
    bool gone = false;         // deleted or purged: a tombstone exists
    std::string gone_principal;  // whose job the tombstone stands for
};

// What a purge removed (so the engine can forget them and delete result files).
struct purge_report {
    std::vector<std::string> purged_job_ids;
    std::vector<idempotency_binding> expired_keys;
};

// A new job's identity, given by the store before its first write.
struct job_identity {
    int64_t seq = 0;  // accept order (list order), never reused
    std::string id;   // 128 bits that look random (store/job_ids.hpp)
};

class job_store {
   public:
    using write_done = std::function<void(bool ok, const std::string& error)>;

    virtual ~job_store() = default;

    // The seq and id of a job about to be inserted (any thread, no I/O). A seq given out
    // but never inserted (the submit failed) is simply skipped.
    virtual job_identity new_job_id() = 0;

    // Insert a new job and, when it has a key, its binding, atomically.
    virtual void insert(const job_record& job, std::optional<idempotency_binding> key,
                        write_done done) = 0;
    // Replace the stored state of an existing job.
    virtual void update(const job_record& job, write_done done) = 0;
    // The same as update(), committing a small result with it (job.result_inline).
    virtual void update(const job_record& job, std::string result, write_done done) = 0;
    // A result stored with update(job, result, ...); nullopt when there is none. May
    // answer at once, on the caller's thread (a result still in memory).
    virtual void read_result(const std::string& job_id, std::function<void(std::optional<std::string>)> done) = 0;
    // Forget a job: remove its row, leave a tombstone, mark its key binding deleted.
    virtual void remove(const tombstone& t, write_done done) = 0;
    // Purge terminal jobs whose expires_at <= now (leaving tombstones of tombstone_ttl),
    // tombstones and key bindings past their expiry.
    virtual void purge(unix_ms now, int64_t tombstone_ttl_ms,
                       std::function<void(purge_report)> done) = 0;

    virtual void find(const std::string& id, std::function<void(job_lookup)> done) = 0;
    // The job id of the key binding with this seq (idempotency_binding::seq; nullopt: none).
    virtual void find_key(int64_t binding_seq, std::function<void(std::optional<std::string>)> done) = 0;
    virtual void list(const job_query& q, std::function<void(std::vector<job_record>)> done) = 0;

    // Startup only (blocking): jobs not yet terminal (in accept order), and live key
    // bindings, handed to `each` one by one as they are read (a million of them are never
    // held twice); `each` runs on the store's reader thread while the caller waits.
    virtual void load_unfinished(const std::function<void(job_record&&)>& each) = 0;
    virtual void load_bindings(const std::function<void(idempotency_binding&&)>& each) = 0;
    // How many rows load_unfinished / load_bindings will hand over (to size tables).
    virtual size_t count_unfinished() = 0;
    virtual size_t count_bindings() = 0;

    // Uploads' metadata (their bytes are files, written before the row).
    virtual void insert_upload(const upload_record& u, write_done done) = 0;
    virtual void remove_uploads(std::vector<std::string> ids, write_done done) = 0;
    virtual std::vector<upload_record> load_uploads() = 0;  // startup only (blocking)

    // Why writes cannot be made durable now, from the latest attempt (a full disk, an I/O
    // error); empty when they can. Clears by itself once a write succeeds again.
    virtual std::string trouble() const = 0;

    // Stop the threads after finishing queued writes.
    virtual void close() = 0;
};

}  // namespace ticketd
