// The embedded job store: SQLite in WAL mode with synchronous=FULL.
//
// One writer thread group-commits: it takes every write queued since its last commit,
// applies them in one transaction and fsyncs once; only then are their `done` callbacks
// run. If one write fails, the group is rolled back and applied again with each write in
// its own savepoint, so that the bad one fails alone (a write must be safe to apply twice). One reader thread
// with its own connection answers lookups and lists, so no caller ever blocks on disk.
#pragma once

#include "store/job_store.hpp"

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

namespace ticketd {

class sqlite_connection;

class sqlite_store final : public job_store {
   public:
    explicit sqlite_store(const std::filesystem::path& db_file);
    ~sqlite_store() override;

    void insert(const job_record& job, std::optional<idempotency_binding> key, write_done done) override;
    void update(const job_record& job, write_done done) override;
    void update(const job_record& job, std::string result, write_done done) override;
    void read_result(const std::string& job_id, std::function<void(std::optional<std::string>)> done) override;
    void remove(const tombstone& t, write_done done) override;
    void purge(unix_ms now, int64_t tombstone_ttl_ms, std::function<void(purge_report)> done) override;
    void find(const std::string& id, std::function<void(job_lookup)> done) override;
    void find_key(const std::string& principal, const std::string& key,
                  std::function<void(std::optional<std::string>)> done) override;
    void list(const job_query& q, std::function<void(std::vector<job_record>)> done) override;
    void load_unfinished(const std::function<void(job_record&&)>& each) override;
    void load_bindings(const std::function<void(idempotency_binding&&)>& each) override;
    size_t count_unfinished() override;
    size_t count_bindings() override;
    void insert_upload(const upload_record& u, write_done done) override;
    void remove_uploads(std::vector<std::string> ids, write_done done) override;
    std::vector<upload_record> load_uploads() override;
    void close() override;

    // From now on, write callbacks run through `executor` (e.g. posted to the io threads)
    // instead of on the writer thread. Unset (the default, and during startup): inline.
    void set_completion_executor(std::function<void(std::function<void()>)> executor);

    // Number of transactions committed so far (for benchmarks and tests).
    uint64_t commits() const;

   private:
    struct write_op {
        std::function<void(sqlite_connection&)> apply;
        write_done done;
    };
    using read_op = std::function<void(sqlite_connection&)>;

    void enqueue_write(write_op op);
    void enqueue_read(read_op op);
    template <class T>
    T read_now(std::function<T(sqlite_connection&)> read);
    void writer_loop();
    void reader_loop();

    std::unique_ptr<sqlite_connection> writer_db_;
    std::unique_ptr<sqlite_connection> reader_db_;

    mutable std::mutex write_mutex_;
    std::condition_variable write_cv_;
    std::deque<write_op> writes_;
    uint64_t commits_ = 0;
    std::function<void(std::function<void()>)> completion_executor_;  // guarded by write_mutex_

    std::mutex read_mutex_;
    std::condition_variable read_cv_;
    std::deque<read_op> reads_;

    bool stopping_ = false;  // guarded by both mutexes in turn
    std::thread writer_;
    std::thread reader_;
};

}  // namespace ticketd
