#include "store/sqlite_apply.hpp"

#include "store/journal.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_rows.hpp"
#include "system/log.hpp"

#include <string_view>
#include <unordered_map>

namespace ticketd {

bool apply_writes(sqlite_connection& db, std::vector<store_write>& batch,
                  std::vector<std::pair<bool, std::string>>& outcomes, std::string& error, bool& hopeless) {
    // Journaled writes to the same job merge into the first of them (one row write for
    // accepted + running + finished), unless another kind of write lies between them.
    std::vector<merged_write> merged(batch.size(), merged_write{nullptr, nullptr, nullptr});
    std::vector<bool> absorbed(batch.size(), false);
    {
        std::unordered_map<std::string_view, size_t> open;  // job id -> the write it merges into
        for (size_t i = 0; i < batch.size(); ++i) {
            const job_write* w = batch[i].journaled.get();
            if (!w) {
                open.clear();
                continue;
            }
            const std::string& id = w->job_id();
            if (w->what == job_write::kind::update) {
                if (const auto it = open.find(id); it != open.end()) {
                    auto& into = merged[it->second];
                    into.state = &w->job;
                    if (w->result) into.result = &*w->result;
                    absorbed[i] = true;
                    continue;
                }
            }
            merged[i] = {w, &w->job, w->result ? &*w->result : nullptr};
            if (w->what == job_write::kind::remove) open.erase(id);
            else open[id] = i;
        }
    }
    const uint64_t reached = journal_reach(batch).first;
    const auto apply_one = [&](size_t i) {
        if (absorbed[i]) return;
        if (batch[i].journaled) apply_merged(db, merged[i]);
        else batch[i].apply(db);
    };
    outcomes.assign(batch.size(), {true, {}});
    // Set when SQLite refused a journaled write's own statement for good: only that makes
    // the failure hopeless, never what follows from it (SQLite rolls a transaction back by
    // itself after an I/O error or a full disk, and the ROLLBACK TO or ROLLBACK after that
    // fails "no transaction is active").
    bool refused_for_good = false;
    try {
        // Optimistic: the whole group in one transaction; only if a write fails is the
        // group applied again, each write in its own savepoint, so that it fails alone.
        db.cached("BEGIN IMMEDIATE").run();
        bool one_failed = false;
        for (size_t i = 0; i < batch.size() && !one_failed; ++i) {
            try {
                apply_one(i);
            } catch (const std::exception&) {
                one_failed = true;
            }
        }
        if (one_failed) {
            db.reset_all();
            if (!sqlite3_get_autocommit(db.handle())) db.cached("ROLLBACK").run();
            db.cached("BEGIN IMMEDIATE").run();
            for (size_t i = 0; i < batch.size(); ++i) {
                db.cached("SAVEPOINT op").run();
                try {
                    apply_one(i);
                    db.cached("RELEASE op").run();
                } catch (const std::exception& e) {
                    // A journaled write was acknowledged long ago: it is never dropped
                    // (only one whose job's row is gone already). The whole group is rolled
                    // back, the journal's applied position stays before it, and the
                    // applier tries again or, when trying cannot help, stops.
                    if (batch[i].journaled && dynamic_cast<const no_such_row*>(&e) == nullptr) {
                        const auto* sql = dynamic_cast<const sqlite_error*>(&e);
                        refused_for_good = sql != nullptr && !sql->transient();
                        throw sqlite_error("the write to job " + batch[i].journaled->job_id() + " (journal record " +
                                           std::to_string(batch[i].position) + "): " + e.what());
                    }
                    // SQLite ended the whole transaction (an I/O error, a full disk): the
                    // group is applied again later.
                    if (sqlite3_get_autocommit(db.handle())) throw;
                    outcomes[i] = {false, e.what()};
                    db.reset_all();
                    db.cached("ROLLBACK TO op").run();
                    db.cached("RELEASE op").run();
                }
            }
        }
        if (reached > 0) {
            db.cached("INSERT OR REPLACE INTO journal_state (id, applied) VALUES (1, ?1)")
                .bind(1, static_cast<int64_t>(reached))
                .run();
        }
        db.reset_all();  // no statement keeps a read open across the commit
        db.cached("COMMIT").run();
        for (size_t i = 0; i < batch.size(); ++i) {
            if (batch[i].journaled && !outcomes[i].first) {
                log_warning("store: a journaled write to job " + batch[i].journaled->job_id() +
                            " found no job to apply to (removed before it was applied): " + outcomes[i].second);
            }
        }
        return true;
    } catch (const std::exception& e) {
        error = e.what();
        hopeless = refused_for_good;
        try {
            db.reset_all();
            db.exec("ROLLBACK");
        } catch (const std::exception&) {
        }
        return false;
    }
}

std::pair<uint64_t, size_t> journal_reach(const std::vector<store_write>& batch) {
    std::pair<uint64_t, size_t> out{0, 0};
    for (const auto& op : batch) {
        if (op.journaled) out = {op.position, out.second + 1};
    }
    return out;
}

uint64_t replay_journal(sqlite_connection& db, journal& log, uint64_t applied, size_t max_batch) {
    std::vector<store_write> replayed;
    size_t replayed_count = 0;
    const auto apply_replayed = [&] {
        std::vector<std::pair<bool, std::string>> outcomes;
        std::string error;
        bool hopeless = false;
        if (!apply_writes(db, replayed, outcomes, error, hopeless)) {
            throw journal_error("journal: cannot apply the journal to the database: " + error +
                                (hopeless ? "; fix: restore the database from a backup taken with its journal, or move "
                                            "the journal directory away to start without its unapplied writes"
                                          : "; fix: make room or repair the disk, then start again"));
        }
        replayed_count += replayed.size();
        replayed.clear();
    };
    const uint64_t last = log.replay(applied, [&](uint64_t position, std::string_view payload) {
        store_write op;
        try {
            op.journaled = std::make_shared<const job_write>(decode_job_write(payload));
        } catch (const std::exception& e) {
            throw journal_error("journal: record " + std::to_string(position) + " cannot be read (" + e.what() +
                                "); fix: start the ticketd version that wrote it, or move the journal " +
                                "directory away to start without its unapplied writes");
        }
        op.position = position;
        replayed.push_back(std::move(op));
        if (replayed.size() >= max_batch) apply_replayed();
    });
    if (!replayed.empty()) apply_replayed();
    if (replayed_count > 0) {
        log_info("store: applied " + std::to_string(replayed_count) + " journaled writes left by the last run");
    }
    return last;
}

}  // namespace ticketd
