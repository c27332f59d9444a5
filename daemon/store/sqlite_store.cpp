// The store's shell: the journal and applier threads, the queues between them and the
// callers, and who answers which write on which thread. Longer than most files here
// (about 540 lines) because the two loops share those locks and the order of their
// hand-offs is the durability argument: read together, it can be checked. The SQL is
// elsewhere (sqlite_schema, sqlite_rows, sqlite_queries, sqlite_apply), as are the
// reader thread and the pending-write overlay.
#include "store/sqlite_store.hpp"

#include "store/sqlite_apply.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_queries.hpp"
#include "store/sqlite_reader.hpp"
#include "store/sqlite_rows.hpp"
#include "store/sqlite_schema.hpp"
#include "system/log.hpp"
#include "system/threads.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <iterator>
#include <type_traits>

namespace ticketd {

namespace {

job_write update_of(const job_record& job, std::optional<std::string> result = std::nullopt) {
    job_write w;
    w.what = job_write::kind::update;
    w.job = job;
    w.result = std::move(result);
    return w;
}

constexpr size_t max_apply_batch = 20000;        // writes per applier transaction
constexpr auto apply_delay = std::chrono::milliseconds(50);  // the most a write waits to be applied
constexpr size_t max_unapplied_writes = 100000;  // beyond: new writes wait for the applier
constexpr auto journal_trouble_window = std::chrono::seconds(10);  // see sqlite_store::trouble()

}  // namespace

sqlite_store::sqlite_store(const std::filesystem::path& db_file, uint64_t journal_segment_bytes,
                           std::filesystem::path journal_dir) {
    writer_db_ = std::make_unique<sqlite_connection>(db_file, false);
    writer_db_->exec("PRAGMA journal_mode=WAL");
    writer_db_->exec("PRAGMA synchronous=FULL");
    // Savepoint journals in memory (not a temp file per batch), and a page cache for the
    // hot pages (the growing ends of the append-only B-trees; SQLite's default is 2 MiB).
    // The id and key indexes take random leaves and outgrow any cache with a million
    // jobs: those come from the kernel's page cache; more here would only be RSS.
    writer_db_->exec("PRAGMA temp_store=MEMORY");
    writer_db_->exec("PRAGMA cache_size=-8192");
    ids_ = std::make_unique<job_ids>(migrate_schema(*writer_db_));
    add_job_seq_function(*writer_db_, *ids_);

    // What the journal holds beyond the applied position goes into SQLite first.
    journal_ = std::make_unique<journal>(journal_dir.empty() ? db_file.parent_path() / "journal" : journal_dir,
                                         journal_segment_bytes);
    {
        sqlite_statement s(writer_db_->handle(), "SELECT applied FROM journal_state WHERE id=1");
        if (s.step()) applied_ = static_cast<uint64_t>(s.int64(0));
    }
    const uint64_t last = replay_journal(*writer_db_, *journal_, applied_, max_apply_batch);
    applied_ = appended_ = last;
    journal_->start(last + 1);
    journal_->release(last);
    {
        // After every seq ever given out (AUTOINCREMENT remembers those of removed rows).
        sqlite_statement s(writer_db_->handle(),
                           "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name='jobs'), 0), "
                           "coalesce((SELECT max(seq) FROM jobs), 0))");
        if (s.step()) next_seq_ = s.int64(0) + 1;
    }

    auto reader_db = std::make_unique<sqlite_connection>(db_file, true);
    add_job_seq_function(*reader_db, *ids_);
    reader_ = std::make_unique<sqlite_reader>(std::move(reader_db));
    writer_ = std::thread([this] {
        name_this_thread("td-store-write");
        run_or_fail_stop("td-store-write", [this] { journal_loop(); });
    });
    applier_ = std::thread([this] {
        name_this_thread("td-store-apply");
        run_this_thread_as_batch();  // off the latency path
        run_or_fail_stop("td-store-apply", [this] { applier_loop(); });
    });
}

sqlite_store::~sqlite_store() { close(); }

job_identity sqlite_store::new_job_id() {
    const int64_t seq = next_seq_.fetch_add(1);
    return {seq, ids_->make(seq)};
}

void sqlite_store::close() {
    {
        std::lock_guard lock(write_mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    // In order: the journal takes what is queued, the applier puts everything into
    // SQLite (a clean stop leaves only applied records in the journal), then the reader.
    write_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    {
        std::lock_guard lock(apply_mutex_);
        applier_stopping_ = true;
    }
    apply_cv_.notify_all();
    if (applier_.joinable()) applier_.join();
    applied_cv_.notify_all();
    if (reader_) reader_->stop();
}

void sqlite_store::set_completion_executor(std::function<completion_origin()> origin,
                                           completion_executor executor) {
    std::lock_guard lock(write_mutex_);
    completion_origin_ = std::move(origin);
    completion_executor_ = std::move(executor);
}

size_t sqlite_store::unapplied_writes() const {
    std::lock_guard lock(apply_mutex_);
    return unapplied_;
}

void sqlite_store::set_observer(observer o) {
    observer_.store(std::make_shared<const observer>(std::move(o)));
}

void sqlite_store::answer_all(std::vector<answer> answers) {
    // A write made on an io thread is answered there, where its connection lives: one
    // hand-off per io thread, so that this thread can go on at once. Any other write (a
    // worker's, a timer's) is answered here: a hop through an io thread would only add a
    // wake-up (its waiters' answers are posted to their connections anyway).
    std::vector<std::pair<completion_origin, std::vector<answer>>> by_origin;
    std::vector<answer> here;
    for (auto& a : answers) {
        if (a.origin == nullptr) {
            here.push_back(std::move(a));
            continue;
        }
        auto group = std::find_if(by_origin.begin(), by_origin.end(), [&](const auto& g) { return g.first == a.origin; });
        if (group == by_origin.end()) group = by_origin.insert(group, {a.origin, {}});
        group->second.push_back(std::move(a));
    }
    if (!by_origin.empty()) {
        completion_executor executor;
        {
            std::lock_guard lock(write_mutex_);
            executor = completion_executor_;
        }
        for (auto& [origin, group] : by_origin) {
            auto run = [group = std::move(group)]() {
                for (const auto& a : group) a.done(a.ok, a.error);
            };
            if (executor) executor(origin, std::move(run));
            else run();  // the executor was unset since the write was made
        }
    }
    for (const auto& a : here) a.done(a.ok, a.error);
}

void sqlite_store::enqueue_write(store_write op) {
    bool queued = false;
    {
        std::lock_guard lock(write_mutex_);
        if (!stopping_) {
            if (completion_origin_) op.origin = completion_origin_();
            writes_.push_back(std::move(op));
            queued = true;
        }
    }
    if (!queued) return op.done(false, "the store is closed");
    write_cv_.notify_one();  // after the unlock: the journal thread it wakes takes the mutex
}

void sqlite_store::enqueue_direct(std::function<void(sqlite_connection&)> apply, write_done done) {
    store_write op;
    op.apply = std::move(apply);
    op.done = std::move(done);
    enqueue_write(std::move(op));
}

void sqlite_store::enqueue_job_write(job_write w, write_done done) {
    store_write op;
    op.journaled = std::make_shared<const job_write>(std::move(w));
    op.done = std::move(done);
    enqueue_write(std::move(op));
}

// The journal thread: the latency path of every job write.
void sqlite_store::journal_loop() {
    std::string record;
    for (;;) {
        std::deque<store_write> batch;
        {
            std::unique_lock lock(write_mutex_);
            write_cv_.wait(lock, [&] { return stopping_ || !writes_.empty(); });
            if (writes_.empty()) return;  // stopping and drained
            batch.swap(writes_);
        }
        bool behind;
        {
            // Back-pressure: far behind, new writes wait for the applier (a slow disk
            // slows accepts down); only if it makes no progress at all do they fail.
            std::unique_lock lock(apply_mutex_);
            behind = !applied_cv_.wait_for(lock, std::chrono::seconds(10),
                                           [&] { return unapplied_ < max_unapplied_writes; });
        }
        bool ok = !behind;
        std::string error = behind ? "the store is stuck: " + std::to_string(max_unapplied_writes) +
                                         " writes wait to be applied to the database (see the log)"
                                   : std::string();
        size_t journaled = 0;
        if (ok) {
            mark_superseded(batch);
            for (auto& op : batch) {
                if (!op.journaled) continue;
                ++journaled;
                if (op.superseded) continue;
                record.clear();
                encode(*op.journaled, record);
                op.position = journal_->add(record);
            }
            const auto started = std::chrono::steady_clock::now();
            try {
                journal_->commit();
            } catch (const std::exception& e) {
                ok = false;
                error = e.what();
                log_error(std::string("store: ") + error);
            }
            if (const auto o = observer_.load(); ok && journaled > 0 && o && o->journal_synced) {
                o->journal_synced(std::chrono::steady_clock::now() - started, journaled);
            }
        }
        if (behind || journaled > 0) {
            std::lock_guard lock(trouble_mutex_);
            journal_trouble_ = ok ? std::string() : error;
            journal_trouble_at_ = std::chrono::steady_clock::now();
        }
        // Acknowledged writes become visible to lookups before anyone hears of them.
        if (ok) {
            for (const auto& op : batch) {
                if (op.journaled && !op.superseded) pending_.add(op.journaled, op.position);
            }
        }
        std::vector<answer> answers;
        bool wake_applier;
        {
            std::lock_guard lock(apply_mutex_);
            // The applier waits for a first write, then gathers more until its delay
            // passes, someone waits for a write or the batch is full: only those wake it.
            wake_applier = to_apply_.empty();
            for (auto& op : batch) {
                if (op.journaled) {
                    answers.push_back({op.origin, std::move(op.done), ok, error});
                    if (!ok || op.superseded) continue;
                    appended_ = op.position;
                    ++unapplied_;
                }
                if (!op.journaled) apply_now_ = true;  // someone waits for it
                to_apply_.push_back(std::move(op));
            }
            wake_applier = wake_applier || apply_now_ || to_apply_.size() >= max_apply_batch;
        }
        if (wake_applier) apply_cv_.notify_one();
        answer_all(std::move(answers));
    }
}

std::string sqlite_store::trouble() const {
    if (auto why = journal_->trouble(); !why.empty()) return why;
    std::lock_guard lock(trouble_mutex_);
    if (!journal_trouble_.empty() && std::chrono::steady_clock::now() - journal_trouble_at_ < journal_trouble_window) {
        return journal_trouble_;
    }
    return applier_trouble_;
}

void sqlite_store::mark_superseded(std::deque<store_write>& group) {
    std::vector<const job_write*> writes;
    writes.reserve(group.size());
    for (const auto& op : group) writes.push_back(op.journaled.get());
    const auto superseded = superseded_writes(writes);
    for (size_t i = 0; i < group.size(); ++i) group[i].superseded = superseded[i];
}

// The applier thread: journaled writes (already durable) and other writes into SQLite.
void sqlite_store::applier_loop() {
    auto backoff = std::chrono::milliseconds(100);
    bool spare_failed = false;  // said once, not at every batch
    for (;;) {
        std::vector<store_write> batch;
        {
            std::unique_lock lock(apply_mutex_);
            apply_cv_.wait(lock, [&] { return applier_stopping_ || !to_apply_.empty(); });
            if (to_apply_.empty()) return;  // stopping and drained
            // Let writes gather: one transaction of thousands of writes costs far less
            // per write than many small ones (shared pages, a job's accepted, running and
            // finished states merged into one row write). Nobody waits for it: lookups
            // see pending writes; lists, uploads and purges ask for it at once.
            apply_cv_.wait_until(lock, std::chrono::steady_clock::now() + apply_delay, [&] {
                return applier_stopping_ || apply_now_ || to_apply_.size() >= max_apply_batch;
            });
            apply_now_ = false;
            while (!to_apply_.empty() && batch.size() < max_apply_batch) {
                batch.push_back(std::move(to_apply_.front()));
                to_apply_.pop_front();
            }
        }
        std::vector<std::pair<bool, std::string>> outcomes;
        std::string error;
        bool hopeless = false;
        const auto started = std::chrono::steady_clock::now();
        if (!apply_writes(*writer_db_, batch, outcomes, error, hopeless)) {
            {
                std::lock_guard trouble_lock(trouble_mutex_);
                applier_trouble_ = "the database: " + error;
            }
            if (hopeless) {
                // Trying again cannot help, and applying later writes would move the
                // journal's applied position past this one: stop with it in the journal.
                throw std::runtime_error("store: " + error +
                                         ": it cannot be applied, and no later write may be applied before it. fix: "
                                         "see the error; the journal keeps the write and the next start applies it");
            }
            log_error("store: applying " + std::to_string(batch.size()) + " writes failed (retrying): " + error);
            std::unique_lock lock(apply_mutex_);
            if (applier_stopping_) {
                // Nothing more is applied: a later group that went in would move the applied
                // position past these. The journal keeps them for the next start; the
                // writes that are not journaled fail.
                std::vector<store_write> rest(std::make_move_iterator(to_apply_.begin()),
                                           std::make_move_iterator(to_apply_.end()));
                to_apply_.clear();
                lock.unlock();
                log_error("store: stopping with writes not applied; the next start applies the journaled ones");
                for (auto* ops : {&batch, &rest}) {
                    for (auto& op : *ops) {
                        if (op.done) op.done(false, error);
                    }
                }
                return;
            }
            for (auto it = batch.rbegin(); it != batch.rend(); ++it) to_apply_.push_front(std::move(*it));
            apply_cv_.wait_for(lock, backoff, [&] { return applier_stopping_; });
            backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
            continue;
        }
        backoff = std::chrono::milliseconds(100);
        {
            std::lock_guard lock(trouble_mutex_);
            applier_trouble_.clear();
        }
        if (const auto o = observer_.load(); o && o->applied) {
            o->applied(std::chrono::steady_clock::now() - started, batch.size());
        }
        drop_pending(batch);
        const auto [reached, journaled] = journal_reach(batch);
        if (journaled > 0) {
            {
                std::lock_guard lock(apply_mutex_);
                applied_ = reached;
                unapplied_ -= journaled;
            }
            applied_cv_.notify_all();
            journal_->release(reached);
        }
        std::vector<answer> answers;
        for (size_t i = 0; i < batch.size(); ++i) {
            if (!batch[i].journaled) {
                answers.push_back({batch[i].origin, std::move(batch[i].done), outcomes[i].first,
                                   std::move(outcomes[i].second)});
            }
        }
        answer_all(std::move(answers));
        // The journal's next segment is written here, off the latency path, after the
        // batch's waiters have their answers.
        try {
            journal_->prepare_spare();
            spare_failed = false;
        } catch (const std::exception& e) {
            if (!spare_failed) log_warning(std::string("store: ") + e.what() + " (the next segment is reserved instead)");
            spare_failed = true;
        }
    }
}

void sqlite_store::drop_pending(const std::vector<store_write>& applied) {
    std::vector<std::pair<const job_write*, uint64_t>> writes;
    writes.reserve(applied.size());
    for (const auto& op : applied) {
        if (op.journaled) writes.emplace_back(op.journaled.get(), op.position);
    }
    pending_.applied(writes);
}

void sqlite_store::wait_applied(uint64_t position) {
    std::unique_lock lock(apply_mutex_);
    if (applied_ < position) {
        apply_now_ = true;
        apply_cv_.notify_one();
    }
    // Bounded: if applying keeps failing (logged), a list answers from what SQLite has.
    if (!applied_cv_.wait_for(lock, std::chrono::seconds(5),
                              [&] { return applied_ >= position || applier_stopping_; })) {
        log_warning("store: a list did not see the latest writes: the applier is behind");
    }
}

void sqlite_store::insert(const job_record& job, std::optional<idempotency_binding> key,
                          write_done done) {
    job_write w;
    w.what = job_write::kind::insert;
    w.job = job;
    w.key = std::move(key);
    enqueue_job_write(std::move(w), std::move(done));
}

void sqlite_store::update(const job_record& job, write_done done) {
    enqueue_job_write(update_of(job), std::move(done));
}

void sqlite_store::update(const job_record& job, std::string result, write_done done) {
    enqueue_job_write(update_of(job, std::move(result)), std::move(done));
}

void sqlite_store::read_result(const std::string& job_id, std::function<void(std::optional<std::string>)> done) {
    // A result fetched right after its job finished (the usual case) is not applied yet:
    // answered at once, without a round trip through the reader thread.
    if (auto pending = pending_.result(job_id)) return done(std::move(*pending));
    reader_->post([this, job_id, done = std::move(done)](sqlite_connection& db) {
        if (auto pending = pending_.result(job_id)) return done(std::move(*pending));  // written meanwhile
        std::optional<std::string> body;
        try {
            body = read_result_row(db, job_id);
        } catch (const std::exception& e) {
            log_error(std::string("store: reading a result failed: ") + e.what());
        }
        done(std::move(body));
    });
}

void sqlite_store::remove(const tombstone& t, write_done done) {
    job_write w;
    w.what = job_write::kind::remove;
    w.removal = t;
    enqueue_job_write(std::move(w), std::move(done));
}

void sqlite_store::purge(unix_ms now, int64_t tombstone_ttl_ms,
                         std::function<void(purge_report)> done) {
    auto report = std::make_shared<purge_report>();
    enqueue_direct([report, now, tombstone_ttl_ms](sqlite_connection& db) {
                       // A write may be applied twice (see apply_writes()): the report is the last pass's.
                       *report = purge_expired(db, now, tombstone_ttl_ms);
                   },
                   [report, done = std::move(done)](bool ok, const std::string& error) {
                       if (!ok) {
                           log_error("store: purge failed: " + error);
                           done(purge_report{});
                           return;
                       }
                       done(std::move(*report));
                   });
}

void sqlite_store::find(const std::string& id, std::function<void(job_lookup)> done) {
    reader_->post([this, id, done = std::move(done)](sqlite_connection& db) {
        if (auto pending = pending_.find(id)) return done(std::move(*pending));
        job_lookup out;
        try {
            out = find_job(db, id);
        } catch (const std::exception& e) {
            log_error(std::string("store: find failed: ") + e.what());
        }
        done(std::move(out));
    });
}

void sqlite_store::find_key(int64_t binding_seq, std::function<void(std::optional<std::string>)> done) {
    reader_->post([this, binding_seq, done = std::move(done)](sqlite_connection& db) {
        if (auto pending = pending_.key_job(binding_seq)) return done(std::move(pending));
        std::optional<std::string> job_id;
        try {
            job_id = find_key_job(db, binding_seq);
        } catch (const std::exception& e) {
            log_error(std::string("store: key lookup failed: ") + e.what());
        }
        done(std::move(job_id));
    });
}

void sqlite_store::list(const job_query& q, std::function<void(std::vector<job_record>)> done) {
    // A list sees every write acknowledged before it was asked: it waits (on the reader
    // thread) until the applier has put them into SQLite.
    uint64_t acknowledged;
    {
        std::lock_guard lock(apply_mutex_);
        acknowledged = appended_;
    }
    reader_->post([this, acknowledged, q, done = std::move(done)](sqlite_connection& db) {
        wait_applied(acknowledged);
        std::vector<job_record> out;
        try {
            out = list_jobs(db, q);
        } catch (const std::exception& e) {
            log_error(std::string("store: list failed: ") + e.what());
        }
        done(std::move(out));
    });
}

void sqlite_store::insert_upload(const upload_record& u, write_done done) {
    enqueue_direct([u](sqlite_connection& db) { insert_upload_row(db, u); }, std::move(done));
}

void sqlite_store::remove_uploads(std::vector<std::string> ids, write_done done) {
    enqueue_direct([ids = std::move(ids)](sqlite_connection& db) { delete_upload_rows(db, ids); }, std::move(done));
}

void sqlite_store::load_unfinished(const std::function<void(job_record&&)>& each) {
    reader_->run_now<void>([&](sqlite_connection& db) { for_each_unfinished_job(db, each); });
}

void sqlite_store::load_bindings(const std::function<void(idempotency_binding&&)>& each) {
    reader_->run_now<void>([&](sqlite_connection& db) { for_each_binding(db, each); });
}

size_t sqlite_store::count_unfinished() { return reader_->run_now<size_t>(count_unfinished_jobs); }

size_t sqlite_store::count_bindings() { return reader_->run_now<size_t>(ticketd::count_bindings); }

std::vector<upload_record> sqlite_store::load_uploads() {
    return reader_->run_now<std::vector<upload_record>>(load_upload_rows);
}

}  // namespace ticketd
