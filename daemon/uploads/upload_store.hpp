// Uploads: binary inputs that clients store before submitting the jobs that use them
// (POST /v1/uploads). The bytes stream from the socket to a temporary file while their
// SHA-256 is computed, so memory stays flat whatever the size; on completion the file is
// fsynced and renamed to <state_dir>/uploads/<id> (read-only), then its row is committed.
//
// A job names uploads in its `files` map. Submitting pins them to the job (an unknown,
// expired or foreign upload is refused); they stay until the job is terminal or deleted,
// and unpinned uploads are purged once past expires_at. Pins live in memory only: at
// startup they are rebuilt from the jobs that are still unfinished.
#pragma once

#include "model/caller.hpp"
#include "model/declared_files.hpp"
#include "system/byte_sink.hpp"
#include "store/job_store.hpp"

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

namespace ticketd {

class upload_store {
   public:
    upload_store(std::filesystem::path dir, job_store& store, std::chrono::milliseconds ttl);
    ~upload_store();
    upload_store(const upload_store&) = delete;
    upload_store& operator=(const upload_store&) = delete;

    // Startup (blocking): load the records and remove what a crash left half done
    // (temporary files, files without a row, rows without their file).
    void load();

    // A sink writing a new upload to a temporary file; it holds `reservation` (from
    // reserve()) until it goes. Throws std::system_error.
    std::shared_ptr<body_sink> begin(std::shared_ptr<void> reservation = nullptr);
    // Makes a fully received sink durable and visible. `done` runs on a background
    // thread with the record, or with an error message.
    void commit(std::shared_ptr<body_sink> sink, std::string principal, std::string content_type,
                std::function<void(std::optional<upload_record>, std::string error)> done);

    std::optional<upload_record> find(const std::string& id, const caller& who) const;

    enum class remove_status { removed, not_found, in_use, internal };
    void remove(const std::string& id, const caller& who, std::function<void(remove_status)> done);

    // Pins every upload `files` names (name -> id) to `job_id`, all or none. Returns the
    // problems as (name, detail); empty when all were pinned. `now` = 0 skips the expiry
    // check (recovery: the job was accepted while they were valid). `declared`: the job
    // type's declared files, whose media types and sizes each upload must fit (null: any).
    std::vector<std::pair<std::string, std::string>> pin(const std::string& job_id, const std::string& principal,
                                                         const job_files& files, unix_ms now,
                                                         const declared_files* declared = nullptr);
    void release(const std::string& job_id, const job_files& files);
    // name -> local path, for the plugin.
    std::map<std::string, std::string> paths(const job_files& files) const;

    // Reserves `bytes` of `principal`'s upload quota `quota` for an upload about to
    // arrive, if what it holds (its uploads, and the reservations of those still
    // arriving) leaves room; null otherwise. `held` says what it holds. The reservation
    // lasts as long as the returned handle (the upload's sink keeps it). Counts the
    // uploads one by one: asked once per upload, and only of principals with that quota.
    std::shared_ptr<void> reserve(const std::string& principal, uint64_t bytes, uint64_t quota, uint64_t& held);

    // Removes unpinned uploads past their expiry.
    void purge(unix_ms now);

    std::chrono::milliseconds ttl() const { return ttl_; }

   private:
    struct entry {
        upload_record record;
        std::set<std::string> pinned_by;  // job ids
    };
    void run_in_background(std::function<void()> task);
    void background_loop();
    void forget(std::vector<std::string> ids, std::function<void(bool ok)> done);

    std::filesystem::path dir_;
    job_store& store_;
    std::chrono::milliseconds ttl_;

    mutable std::mutex mutex_;
    std::unordered_map<std::string, entry> uploads_;
    // Bytes reserved for uploads still arriving, by principal (its own lock: a sink may
    // release its reservation after the store is gone).
    struct arrivals {
        std::mutex mutex;
        std::unordered_map<std::string, uint64_t> bytes;
    };
    std::shared_ptr<arrivals> arriving_ = std::make_shared<arrivals>();

    // fsync of a large file must not hold an io thread or the store's writer.
    std::mutex tasks_mutex_;
    std::condition_variable tasks_cv_;
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
    std::thread background_;
};

}  // namespace ticketd
