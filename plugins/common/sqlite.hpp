// A small RAII layer over SQLite's C API, shared by the bundled import and report plugins
// (header-only, so each plugin stays one self-contained .so). Errors throw sqlite::error
// carrying SQLite's own message.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace plugins::sqlite {

class error : public std::runtime_error {
   public:
    explicit error(const std::string& what, int code = SQLITE_ERROR) : std::runtime_error(what), code_(code) {}
    // SQLite's primary result code (SQLITE_TOOBIG, SQLITE_BUSY, ...).
    int code() const noexcept { return code_; }

   private:
    int code_;
};

class statement;

class database {
   public:
    database(const std::string& path, int flags) {
        sqlite3* db = nullptr;
        const int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
        db_ = db;
        if (rc != SQLITE_OK) {
            const std::string why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
            sqlite3_close(db);
            db_ = nullptr;
            throw error("cannot open the database " + path + ": " + why);
        }
        sqlite3_extended_result_codes(db_, 1);
    }
    ~database() { sqlite3_close_v2(db_); }
    database(const database&) = delete;
    database& operator=(const database&) = delete;

    sqlite3* get() const noexcept { return db_; }
    void exec(const std::string& sql) {
        char* message = nullptr;
        if (const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message); rc != SQLITE_OK) {
            std::string why = message ? message : sqlite3_errmsg(db_);
            sqlite3_free(message);
            throw error(why, rc & 0xff);
        }
    }
    std::string message() const { return sqlite3_errmsg(db_); }

   private:
    sqlite3* db_ = nullptr;
};

class statement {
   public:
    statement(database& db, std::string_view sql) : db_(db.get()) {
        const char* tail = nullptr;
        if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt_, &tail) != SQLITE_OK) {
            throw error(sqlite3_errmsg(db_));
        }
        if (stmt_ == nullptr) throw error("the SQL text is empty");
        tail_ = std::string_view(tail, static_cast<size_t>(sql.data() + sql.size() - tail));
    }
    ~statement() { sqlite3_finalize(stmt_); }
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;

    sqlite3_stmt* get() const noexcept { return stmt_; }
    // What followed the first statement in the SQL text (for single-statement checks).
    std::string_view tail() const noexcept { return tail_; }

    statement& bind(int i, int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
    statement& bind(int i, double v) { return check(sqlite3_bind_double(stmt_, i, v)); }
    statement& bind(int i, std::string_view v) {
        return check(sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
    }
    statement& bind_null(int i) { return check(sqlite3_bind_null(stmt_, i)); }

    // True while a row is available.
    bool step() {
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        throw error(sqlite3_errmsg(db_), rc & 0xff);
    }
    void run() {
        while (step()) {
        }
    }
    void reset() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }

    int columns() const { return sqlite3_column_count(stmt_); }
    int type(int c) const { return sqlite3_column_type(stmt_, c); }
    int64_t int64(int c) const { return sqlite3_column_int64(stmt_, c); }
    double real(int c) const { return sqlite3_column_double(stmt_, c); }
    std::string_view text(int c) const {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, c));
        return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, c))) : std::string_view();
    }
    std::string name(int c) const { return sqlite3_column_name(stmt_, c); }

   private:
    statement& check(int rc) {
        if (rc != SQLITE_OK) throw error(sqlite3_errmsg(db_), rc & 0xff);
        return *this;
    }
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
    std::string_view tail_;
};

// A busy handler that waits for another connection's lock (retrying every 10 ms) until
// `timeout_ms`, but gives up at once when `stop()` says so (a job canceled meanwhile).
class busy_wait {
   public:
    busy_wait(database& db, int timeout_ms, std::function<bool()> stop) : timeout_ms_(timeout_ms), stop_(std::move(stop)) {
        sqlite3_busy_handler(db.get(), &busy_wait::retry, this);
    }
    busy_wait(const busy_wait&) = delete;
    busy_wait& operator=(const busy_wait&) = delete;

   private:
    static int retry(void* self, int attempt) {
        auto* w = static_cast<busy_wait*>(self);
        if (w->stop_() || attempt * 10 >= w->timeout_ms_) return 0;
        sqlite3_sleep(10);
        return 1;
    }
    int timeout_ms_;
    std::function<bool()> stop_;
};

// "name" quoted as an SQL identifier.
inline std::string quote_identifier(std::string_view name) {
    std::string out = "\"";
    for (const char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

}  // namespace plugins::sqlite
