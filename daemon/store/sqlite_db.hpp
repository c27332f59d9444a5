// Thin RAII wrappers over the SQLite C API: one connection, cached prepared statements.
// Errors throw sqlite_error; callers (the store threads) turn them into failed writes.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ticketd {

class sqlite_error : public std::runtime_error {
   public:
    explicit sqlite_error(const std::string& what, int code = SQLITE_ERROR) : std::runtime_error(what), code_(code) {}
    // SQLite's primary result code (SQLITE_FULL, SQLITE_CONSTRAINT, ...).
    int code() const noexcept { return code_; }
    // True for what may pass by itself (a full disk, an I/O error, a lock, no memory);
    // false for what will fail again however often it is tried (a constraint, corruption).
    bool transient() const noexcept;

   private:
    int code_;
};

class sqlite_statement {
   public:
    sqlite_statement(sqlite3* db, std::string_view sql);
    ~sqlite_statement();
    sqlite_statement(const sqlite_statement&) = delete;
    sqlite_statement& operator=(const sqlite_statement&) = delete;

    sqlite_statement& reset();  // clears bindings too
    void release() { sqlite3_reset(stmt_); }
    sqlite_statement& bind(int index, int64_t value);
    sqlite_statement& bind(int index, double value);
    sqlite_statement& bind(int index, std::string_view value);  // copied
    // Not copied (SQLITE_STATIC): `value` must stay unchanged until the statement has run.
    // For the store's hot writes, whose strings belong to the write being applied.
    sqlite_statement& bind_ref(int index, std::string_view value);
    sqlite_statement& bind_null(int index);
    sqlite_statement& bind_blob(int index, std::string_view value);
    sqlite_statement& bind_blob_ref(int index, std::string_view value);  // as bind_ref
    sqlite_statement& bind_optional(int index, int64_t value) {  // 0 -> NULL
        return value == 0 ? bind_null(index) : bind(index, value);
    }

    bool step();  // true: a row is available
    void run() {
        while (step()) {
        }
    }

    int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
    double real(int col) const { return sqlite3_column_double(stmt_, col); }
    bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
    std::string text(int col) const;
    std::string blob(int col) const;

   private:
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

class sqlite_connection {
   public:
    sqlite_connection(const std::filesystem::path& file, bool read_only);
    ~sqlite_connection();
    sqlite_connection(const sqlite_connection&) = delete;
    sqlite_connection& operator=(const sqlite_connection&) = delete;

    void exec(const char* sql);
    // A prepared statement cached by its SQL text (which must be a string literal).
    sqlite_statement& cached(const char* sql);
    // Resets every cached statement. An un-reset statement that returned a row keeps its
    // read transaction (and so an old snapshot) open for the whole connection.
    void reset_all();
    sqlite3* handle() const { return db_; }
    int64_t changes() const { return sqlite3_changes64(db_); }

   private:
    sqlite3* db_ = nullptr;
    std::unordered_map<const char*, std::unique_ptr<sqlite_statement>> statements_;
};

}  // namespace ticketd
