// The embedded job store: SQLite in WAL mode, behind a write-ahead journal.
//
// Job writes (insert, update, remove) are durable once the journal has them: the journal
// thread appends every write queued since its last append as records, fdatasyncs once,
// and only then runs their `done` callbacks. The applier thread puts the journaled writes
// into SQLite afterwards in large transactions (synchronous=FULL), several writes to one
// job becoming one row write, and records in the same transaction how far it got; then
// the journal's applied segments are deleted. At startup, what the journal holds beyond
// that point is applied before anything else (a crash loses no acknowledged write).
// Until a write is applied, lookups see it in memory (the pending writes); lists wait
// for the applier to catch up with what was acknowledged when they were asked.
// Other writes (purge, uploads) are applied by the applier in order with the journaled
// ones; their `done` runs after their commit. If one write fails, the group is rolled
// back and applied again with each write in its own savepoint, so that the bad one fails
// alone (a write must be safe to apply twice). One reader thread with its own connection
// answers lookups and lists, so no caller ever blocks on disk.
#pragma once

#include "store/job_ids.hpp"
#include "store/job_store.hpp"
#include "store/job_write.hpp"
#include "store/journal.hpp"
#include "store/pending_writes.hpp"
#include "store/sqlite_apply.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace ticketd {

class sqlite_connection;
class sqlite_reader;

class sqlite_store final : public job_store {
   public:
    // The journal lives in `journal_dir` (by default, `journal/` next to the database).
    explicit sqlite_store(const std::filesystem::path& db_file,
                          uint64_t journal_segment_bytes = journal::default_segment_bytes,
                          std::filesystem::path journal_dir = {});
    ~sqlite_store() override;

    job_identity new_job_id() override;
    void insert(const job_record& job, std::optional<idempotency_binding> key, write_done done) override;
    void update(const job_record& job, write_done done) override;
    void update(const job_record& job, std::string result, write_done done) override;
    void read_result(const std::string& job_id, std::function<void(std::optional<std::string>)> done) override;
    void remove(const tombstone& t, write_done done) override;
    void purge(unix_ms now, int64_t tombstone_ttl_ms, std::function<void(purge_report)> done) override;
    void find(const std::string& id, std::function<void(job_lookup)> done) override;
    void find_key(int64_t binding_seq, std::function<void(std::optional<std::string>)> done) override;
    void list(const job_query& q, std::function<void(std::vector<job_record>)> done) override;
    void load_unfinished(const std::function<void(job_record&&)>& each) override;
    void load_bindings(const std::function<void(idempotency_binding&&)>& each) override;
    size_t count_unfinished() override;
    size_t count_bindings() override;
    void insert_upload(const upload_record& u, write_done done) override;
    void remove_uploads(std::vector<std::string> ids, write_done done) override;
    std::vector<upload_record> load_uploads() override;
    void close() override;

    // From now on, `origin` is asked on the thread that makes a write. A write whose origin
    // is not nullptr (made on an io thread) is answered through `executor` with it, so
    // that the io thread hears of its own writes (e.g. posted back to it); any other write
    // (a worker's, a timer's) and every write before this call is answered on the store's
    // thread that finished it, at once: its callback must not block.
    using completion_origin = store_write::origin_t;
    using completion_executor = std::function<void(completion_origin, std::function<void()>)>;
    void set_completion_executor(std::function<completion_origin()> origin, completion_executor executor);

    // Told of the store's work as it is done, on the store's threads (keep it cheap): each
    // group of job writes made durable (appended to the journal and fdatasync'd) and each
    // transaction of the applier, with how long it took and how many writes it held.
    struct observer {
        std::function<void(std::chrono::duration<double> took, size_t writes)> journal_synced;
        std::function<void(std::chrono::duration<double> took, size_t writes)> applied;
    };
    void set_observer(observer o);

    // Writes acknowledged but not yet in SQLite (a gauge: how far the applier is behind).
    size_t unapplied_writes() const;

    std::string trouble() const override;

   private:

    void enqueue_write(store_write op);
    void enqueue_direct(std::function<void(sqlite_connection&)> apply, write_done done);
    void enqueue_job_write(job_write w, write_done done);
    void journal_loop();
    void applier_loop();
    static void mark_superseded(std::deque<store_write>& group);
    void drop_pending(const std::vector<store_write>& applied);
    void wait_applied(uint64_t position);
    struct answer {
        completion_origin origin;
        write_done done;
        bool ok;
        std::string error;
    };
    void answer_all(std::vector<answer> answers);

    std::unique_ptr<job_ids> ids_;  // before the connections: their job_seq() uses it
    std::atomic<int64_t> next_seq_{1};
    std::unique_ptr<sqlite_connection> writer_db_;
    std::unique_ptr<journal> journal_;

    mutable std::mutex write_mutex_;  // the journal thread's queue
    std::condition_variable write_cv_;
    std::deque<store_write> writes_;
    std::function<completion_origin()> completion_origin_;  // guarded by write_mutex_
    completion_executor completion_executor_;               // guarded by write_mutex_
    bool stopping_ = false;  // guarded by write_mutex_
    std::atomic<std::shared_ptr<const observer>> observer_;

    mutable std::mutex apply_mutex_;  // the applier's queue and progress
    std::condition_variable apply_cv_;
    std::condition_variable applied_cv_;
    std::deque<store_write> to_apply_;
    uint64_t appended_ = 0;  // the last journal position acknowledged
    uint64_t applied_ = 0;   // the last journal position in SQLite
    size_t unapplied_ = 0;   // journaled writes in to_apply_ or being applied
    bool apply_now_ = false;  // someone waits: no gathering
    bool applier_stopping_ = false;

    pending_writes pending_;  // acknowledged writes not yet in SQLite


    // The latest failure of the journal's commit and of the applier, cleared by their next
    // success (see trouble()).
    // The journal's is reported for journal_trouble_window after it happened: nothing
    // else would clear it when no write comes (readiness would stay false for good).
    mutable std::mutex trouble_mutex_;
    std::string journal_trouble_;
    std::chrono::steady_clock::time_point journal_trouble_at_;
    std::string applier_trouble_;

    std::thread writer_;
    std::thread applier_;
    std::unique_ptr<sqlite_reader> reader_;
};

}  // namespace ticketd
