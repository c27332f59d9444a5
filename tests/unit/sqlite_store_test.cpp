// The store behind its journal: acknowledged writes are visible at once (before the
// applier has put them into SQLite), merged writes keep what the first one wrote, and
// what a crash left in the journal is applied at the next start.
#include "store/job_write.hpp"
#include "store/journal.hpp"
#include "store/sqlite_store.hpp"

#include "support/records.hpp"
#include "support/sqlite_reader.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <vector>
#include <string>

using namespace ticketd;
using ticketd::test::temp_dir;
using namespace ticketd::test;
namespace fs = std::filesystem;

namespace {

void wait_ok(const std::function<void(job_store::write_done)>& write) {
    std::promise<std::pair<bool, std::string>> p;
    write([&](bool ok, const std::string& error) { p.set_value({ok, error}); });
    const auto [ok, error] = p.get_future().get();
    ASSERT_TRUE(ok) << error;
}

template <class T>
T ask(const std::function<void(std::function<void(T)>)>& read) {
    std::promise<T> p;
    read([&](T value) { p.set_value(std::move(value)); });
    return p.get_future().get();
}

std::string sql_value(const fs::path& db, const std::string& query) {
    const auto rows = test::sqlite_reader(db.string()).rows(query);
    return rows.empty() ? "(none)" : rows.front();
}

// Fixed ids with seq 0: jobs as ticketd wrote them to its journal before schema 6 (random
// ids, the seq numbered by SQLite), found through legacy_job_ids.
const std::string id_a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const std::string id_b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

// A new job as the engine makes one: its id and seq from the store.
job_record new_job(job_store& store) {
    auto identity = store.new_job_id();
    auto r = queued_job(identity.id);
    r.seq = identity.seq;
    return r;
}

}  // namespace

TEST(sqlite_store, acknowledged_writes_are_seen_at_once_and_kept) {
    temp_dir t("ticketd-store");
    const auto db = t.path / "ticketd.db";
    job_record a, b;
    {
        sqlite_store store(db);
        a = new_job(store);
        idempotency_binding key{"team-a", "k-a", a.id, std::string(64, '0'), false, 1790086400000, a.seq};
        wait_ok([&](auto done) { store.insert(a, key, done); });
        // Seen right after the acknowledgement, applied or not.
        const auto found = ask<job_lookup>([&](auto done) { store.find(a.id, done); });
        ASSERT_TRUE(found.job.has_value());
        EXPECT_EQ(found.job->status, job_status::queued);
        EXPECT_EQ(ask<std::optional<std::string>>([&](auto done) { store.find_key(a.seq, done); }), a.id);
        wait_ok([&](auto done) { store.update(finished(a), R"({"ok":1})", done); });
        EXPECT_EQ(ask<std::optional<std::string>>([&](auto done) { store.read_result(a.id, done); }),
                  std::optional<std::string>(R"({"ok":1})"));
        job_query q;
        q.principal = "team-a";
        const auto listed = ask<std::vector<job_record>>([&](auto done) { store.list(q, done); });
        ASSERT_EQ(listed.size(), 1u);  // a list waits for the applier
        EXPECT_EQ(listed[0].status, job_status::succeeded);

        b = new_job(store);
        wait_ok([&](auto done) { store.insert(b, std::nullopt, done); });
        wait_ok([&](auto done) { store.remove(tombstone{b.id, "report", 1790000000005, 1790086400000}, done); });
        EXPECT_TRUE(ask<job_lookup>([&](auto done) { store.find(b.id, done); }).gone);
    }
    // After a clean stop everything is in SQLite; the merged writes kept the first one's
    // input and the last one's state.
    EXPECT_EQ(sql_value(db, "SELECT status || ' ' || input || ' ' || version FROM jobs WHERE id='" + a.id + "'"),
              R"(succeeded {"rows":3} 3)");
    EXPECT_EQ(sql_value(db, "SELECT body FROM results"), R"({"ok":1})");
    EXPECT_EQ(sql_value(db, "SELECT count(*) FROM jobs WHERE id='" + b.id + "'"), "0");
    EXPECT_EQ(sql_value(db, "SELECT count(*) FROM tombstones WHERE job_id='" + b.id + "'"), "1");
    EXPECT_EQ(sql_value(db, "SELECT applied FROM journal_state"), "4");
    EXPECT_EQ(sql_value(db, "SELECT seq || ' ' || job_id FROM idempotency_keys"), std::to_string(a.seq) + " " + a.id);
    sqlite_store again(db);
    const auto found = ask<job_lookup>([&](auto done) { again.find(a.id, done); });
    ASSERT_TRUE(found.job.has_value());
    EXPECT_EQ(found.job->status, job_status::succeeded);
    EXPECT_TRUE(ask<job_lookup>([&](auto done) { again.find(b.id, done); }).gone);
    EXPECT_EQ(ask<std::optional<std::string>>([&](auto done) { again.find_key(a.seq, done); }), a.id);
}

// As if the daemon died after acknowledging writes the applier had not yet applied:
// records in the journal past the applied position.
TEST(sqlite_store, the_next_start_applies_what_the_journal_holds) {
    temp_dir t("ticketd-store");
    const auto db = t.path / "ticketd.db";
    { sqlite_store create(db); }  // an empty, current schema; applied = 0
    {
        journal j(t.path / "journal");
        j.start(j.replay(0, [](uint64_t, std::string_view) {}) + 1);
        std::string bytes;
        job_write insert_a;
        insert_a.what = job_write::kind::insert;
        insert_a.job = queued_job(id_a);
        insert_a.key = idempotency_binding{"team-a", "k-a", id_a, std::string(64, '0'), false, 1790086400000};
        encode(insert_a, bytes);
        j.add(bytes);
        job_write insert_b;
        insert_b.what = job_write::kind::insert;
        insert_b.job = queued_job(id_b);
        bytes.clear();
        encode(insert_b, bytes);
        j.add(bytes);
        job_write finish_b;
        finish_b.job = finished(queued_job(id_b));
        finish_b.result = R"({"ok":2})";
        bytes.clear();
        encode(finish_b, bytes);
        j.add(bytes);
        j.commit();
    }
    sqlite_store store(db);
    std::vector<std::string> unfinished;
    store.load_unfinished([&](job_record&& r) { unfinished.push_back(r.id); });
    EXPECT_EQ(unfinished, std::vector<std::string>{id_a});
    // Records from before schema 6 (seq 0): SQLite numbered the jobs, the old ids are
    // listed with their seq, and the key binding has its job's seq.
    EXPECT_EQ(sql_value(db, "SELECT group_concat(id || '=' || seq) FROM legacy_job_ids"), id_a + "=1," + id_b + "=2");
    std::vector<idempotency_binding> bindings;
    store.load_bindings([&](idempotency_binding&& b) { bindings.push_back(std::move(b)); });
    ASSERT_EQ(bindings.size(), 1u);
    EXPECT_EQ(bindings[0].seq, 1);
    EXPECT_EQ(ask<std::optional<std::string>>([&](auto done) { store.find_key(1, done); }), id_a);
    EXPECT_TRUE(ask<job_lookup>([&](auto done) { store.find(id_a, done); }).job.has_value());
    EXPECT_EQ(ask<std::optional<std::string>>([&](auto done) { store.read_result(id_b, done); }),
              std::optional<std::string>(R"({"ok":2})"));
    EXPECT_EQ(sql_value(db, "SELECT applied FROM journal_state"), "3");
    // The replayed segment is gone; only the one being appended to stays.
    size_t files = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(t.path / "journal")) ++files;
    EXPECT_EQ(files, 1u);
}

TEST(sqlite_store, a_record_it_cannot_read_stops_the_start_with_the_fix) {
    temp_dir t("ticketd-store");
    const auto db = t.path / "ticketd.db";
    { sqlite_store create(db); }
    {
        journal j(t.path / "journal");
        j.start(j.replay(0, [](uint64_t, std::string_view) {}) + 1);
        j.add("not a job write");
        j.commit();
    }
    try {
        sqlite_store store(db);
        FAIL() << "started over an unreadable record";
    } catch (const journal_error& e) {
        EXPECT_NE(std::string(e.what()).find("record 1"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("fix:"), std::string::npos) << e.what();
    }
}

// A job write made on an io thread is answered through the executor with that thread's
// origin (in the daemon: posted to that io thread); one made elsewhere (a worker, whose
// origin is nullptr) is answered on the journal thread at once, never posted.
TEST(sqlite_store, writes_are_answered_on_their_io_thread_or_at_once) {
    temp_dir t("ticketd-store");
    std::mutex m;  // declared before the store: its last completions may still be posted
    std::condition_variable cv;
    std::vector<std::function<void()>> posted;
    std::vector<sqlite_store::completion_origin> origins;
    std::promise<bool> later;
    sqlite_store store(t.path / "ticketd.db");
    const auto a = new_job(store);
    wait_ok([&](auto done) { store.insert(a, std::nullopt, done); });
    int io_thread_marker = 0;
    std::atomic<bool> on_io{false};  // what the writing thread is, as the origin says
    store.set_completion_executor(
        [&] { return on_io ? static_cast<sqlite_store::completion_origin>(&io_thread_marker) : nullptr; },
        [&](sqlite_store::completion_origin origin, std::function<void()> fn) {
            std::lock_guard lock(m);
            origins.push_back(origin);
            posted.push_back(std::move(fn));
            cv.notify_all();
        });
    auto running = a;
    running.status = job_status::running;
    wait_ok([&](auto done) { store.update(running, done); });  // would hang if posted
    {
        std::lock_guard lock(m);
        EXPECT_TRUE(posted.empty());
    }
    on_io = true;
    store.update(finished(a), [&](bool ok, const std::string&) { later.set_value(ok); });
    std::function<void()> fn;
    {
        std::unique_lock lock(m);
        ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return !posted.empty(); }));
        fn = std::move(posted.front());
        EXPECT_EQ(origins.front(), &io_thread_marker);
    }
    fn();
    EXPECT_TRUE(later.get_future().get());
    store.set_completion_executor(nullptr, nullptr);
}

// The observer hears of every group of job writes made durable and of every applier
// transaction, with how many writes each held: all of them, each once.
TEST(sqlite_store, the_observer_is_told_of_each_journal_sync_and_applier_transaction) {
    temp_dir t("ticketd-store");
    std::mutex m;  // declared before the store, which calls the observer until closed
    size_t synced_writes = 0, syncs = 0, applied_writes = 0, transactions = 0;
    double synced_seconds = 0;
    sqlite_store store(t.path / "ticketd.db");
    store.set_observer({[&](std::chrono::duration<double> took, size_t writes) {
                            std::lock_guard lock(m);
                            synced_writes += writes;
                            ++syncs;
                            synced_seconds += took.count();
                        },
                        [&](std::chrono::duration<double>, size_t writes) {
                            std::lock_guard lock(m);
                            applied_writes += writes;
                            ++transactions;
                        }});
    const auto a = new_job(store);
    const auto b = new_job(store);
    wait_ok([&](auto done) { store.insert(a, std::nullopt, done); });
    wait_ok([&](auto done) { store.insert(b, std::nullopt, done); });
    wait_ok([&](auto done) { store.update(finished(a), done); });
    {
        std::lock_guard lock(m);
        EXPECT_EQ(synced_writes, 3u);
        EXPECT_EQ(syncs, 3u);  // each write was waited for before the next was made
        EXPECT_GT(synced_seconds, 0);
    }
    store.close();  // applies what is left
    std::lock_guard lock(m);
    EXPECT_EQ(applied_writes, 3u);
    EXPECT_GE(transactions, 1u);
}

// Ids from new_job_id() lead to their row by its seq, once in SQLite (no id index);
// an id that is not exactly the stored one finds nothing, and seqs are never given twice.
TEST(sqlite_store, new_ids_find_their_row_and_nothing_else) {
    temp_dir t("ticketd-store");
    const auto db = t.path / "ticketd.db";
    std::vector<job_identity> made;
    {
        sqlite_store store(db);
        for (int i = 0; i < 3; ++i) {
            made.push_back(store.new_job_id());
            auto job = queued_job(made.back().id);
            job.seq = made.back().seq;
            wait_ok([&](auto done) { store.insert(job, std::nullopt, done); });
        }
        EXPECT_EQ(made[0].seq + 1, made[1].seq);
        EXPECT_EQ(made[1].seq + 1, made[2].seq);
        auto done_job = finished(queued_job(made[0].id));
        done_job.seq = made[0].seq;
        wait_ok([&](auto done) { store.update(done_job, R"({"ok":3})", done); });
        wait_ok([&](auto done) { store.remove(tombstone{made[2].id, "report", 1790000000005, 1790086400000}, done); });
        job_query q;
        q.principal = "team-a";
        ASSERT_EQ(ask<std::vector<job_record>>([&](auto done) { store.list(q, done); }).size(), 2u);  // applied
        const auto first = ask<job_lookup>([&](auto done) { store.find(made[0].id, done); });
        ASSERT_TRUE(first.job.has_value());
        EXPECT_EQ(first.job->seq, made[0].seq);
        EXPECT_EQ(first.job->status, job_status::succeeded);
        EXPECT_EQ(ask<std::optional<std::string>>([&](auto done) { store.read_result(made[0].id, done); }),
                  std::optional<std::string>(R"({"ok":3})"));
        EXPECT_TRUE(ask<job_lookup>([&](auto done) { store.find(made[1].id, done); }).job.has_value());
        EXPECT_TRUE(ask<job_lookup>([&](auto done) { store.find(made[2].id, done); }).gone);

        // The same seq with another random half (made with the store's own key), and an
        // id one digit off: neither is the job.
        const std::string stored_key = sql_value(db, "SELECT hex(key) FROM job_id_key");
        ASSERT_EQ(stored_key.size(), 32u);
        job_ids::key key{};
        for (size_t i = 0; i < key.size(); ++i) {
            key[i] = static_cast<uint8_t>(std::stoi(stored_key.substr(2 * i, 2), nullptr, 16));
        }
        const auto forged = job_ids(key).make(made[1].seq);
        ASSERT_EQ(job_ids(key).seq_of(made[1].id), made[1].seq);
        for (const auto& wrong : {forged, made[1].id.substr(0, 31) + (made[1].id[31] == '0' ? '1' : '0')}) {
            const auto found = ask<job_lookup>([&](auto done) { store.find(wrong, done); });
            EXPECT_FALSE(found.job.has_value()) << wrong;
            EXPECT_FALSE(found.gone) << wrong;
        }
    }
    // Nothing indexes the ids (the index that grew the store's cost per job), and none of
    // these jobs needed the list of older ids.
    EXPECT_EQ(sql_value(db, "SELECT count(*) FROM pragma_index_list('jobs') l, pragma_index_info(l.name) i "
                            "WHERE i.name = 'id'"),
              "0");
    EXPECT_EQ(sql_value(db, "SELECT count(*) FROM legacy_job_ids"), "0");
    // The removed job's seq is not given again after a restart.
    sqlite_store again(db);
    EXPECT_EQ(again.new_job_id().seq, made[2].seq + 1);
    EXPECT_TRUE(ask<job_lookup>([&](auto done) { again.find(made[1].id, done); }).job.has_value());
}

// A result not yet in SQLite (the usual case: a client fetches it right after the 303) is
// answered at once, on the caller's thread, without a round trip through the reader.
// Held back here by another connection's write lock, which the applier waits out.
TEST(sqlite_store, a_result_not_yet_applied_is_answered_on_the_callers_thread) {
    temp_dir t("ticketd-store");
    const auto db = t.path / "ticketd.db";
    sqlite_store store(db);
    const auto a = new_job(store);
    wait_ok([&](auto done) { store.insert(a, std::nullopt, done); });
    sqlite3* blocker = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &blocker), SQLITE_OK);
    sqlite3_busy_timeout(blocker, 10000);  // the applier may still be writing the insert
    ASSERT_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    wait_ok([&](auto done) { store.update(finished(a), R"({"ok":4})", done); });  // journaled only
    std::optional<std::string> body;
    std::thread::id answered_on;
    store.read_result(a.id, [&](std::optional<std::string> b) {
        body = std::move(b);
        answered_on = std::this_thread::get_id();
    });
    EXPECT_EQ(answered_on, std::this_thread::get_id());
    EXPECT_EQ(body, std::optional<std::string>(R"({"ok":4})"));
    sqlite3_exec(blocker, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(blocker);
    // Once applied, the result comes from SQLite, through the reader thread.
    job_query q;
    q.principal = "team-a";
    ASSERT_EQ(ask<std::vector<job_record>>([&](auto done) { store.list(q, done); }).size(), 1u);
    std::promise<std::pair<std::optional<std::string>, std::thread::id>> later;
    store.read_result(a.id, [&](std::optional<std::string> b) { later.set_value({std::move(b), std::this_thread::get_id()}); });
    const auto [stored, on] = later.get_future().get();
    EXPECT_EQ(stored, std::optional<std::string>(R"({"ok":4})"));
    EXPECT_NE(on, std::this_thread::get_id());
}
