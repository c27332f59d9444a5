#include "store/sqlite_db.hpp"

namespace ticketd {

namespace {
[[noreturn]] void throw_error(sqlite3* db, std::string_view what) {
    throw sqlite_error(std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "out of memory"),
                       db ? sqlite3_errcode(db) & 0xff : SQLITE_NOMEM);
}
}  // namespace

bool sqlite_error::transient() const noexcept {
    switch (code_) {
        case SQLITE_FULL:
        case SQLITE_IOERR:
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_NOMEM:
        case SQLITE_READONLY:
        case SQLITE_CANTOPEN:
        case SQLITE_PROTOCOL:
        case SQLITE_INTERRUPT: return true;
        default: return false;
    }
}

sqlite_statement::sqlite_statement(sqlite3* db, std::string_view sql) : db_(db) {
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &stmt_, nullptr) != SQLITE_OK) {
        throw_error(db, "prepare '" + std::string(sql.substr(0, 60)) + "'");
    }
}

sqlite_statement::~sqlite_statement() { sqlite3_finalize(stmt_); }

sqlite_statement& sqlite_statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    return *this;
}

sqlite_statement& sqlite_statement::bind(int index, int64_t value) {
    if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) throw_error(db_, "bind");
    return *this;
}

sqlite_statement& sqlite_statement::bind(int index, double value) {
    if (sqlite3_bind_double(stmt_, index, value) != SQLITE_OK) throw_error(db_, "bind");
    return *this;
}

sqlite_statement& sqlite_statement::bind(int index, std::string_view value) {
    if (sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT,
                            SQLITE_UTF8) != SQLITE_OK) {
        throw_error(db_, "bind");
    }
    return *this;
}

sqlite_statement& sqlite_statement::bind_ref(int index, std::string_view value) {
    if (sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8) != SQLITE_OK) {
        throw_error(db_, "bind");
    }
    return *this;
}

sqlite_statement& sqlite_statement::bind_null(int index) {
    if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) throw_error(db_, "bind");
    return *this;
}

bool sqlite_statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw_error(db_, "step");
}

sqlite_statement& sqlite_statement::bind_blob(int index, std::string_view value) {
    if (sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT) != SQLITE_OK) {
        throw_error(db_, "bind");
    }
    return *this;
}

sqlite_statement& sqlite_statement::bind_blob_ref(int index, std::string_view value) {
    if (sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_STATIC) != SQLITE_OK) {
        throw_error(db_, "bind");
    }
    return *this;
}

std::string sqlite_statement::blob(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
}

std::string sqlite_statement::text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
}

sqlite_connection::sqlite_connection(const std::filesystem::path& file, bool read_only) {
    const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                      SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(file.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
        std::string message = "open " + file.string() + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory");
        sqlite3_close(db_);
        throw sqlite_error(message);
    }
    sqlite3_busy_timeout(db_, 5000);
}

sqlite_connection::~sqlite_connection() {
    statements_.clear();
    sqlite3_close(db_);
}

void sqlite_connection::exec(const char* sql) {
    char* error = nullptr;
    if (const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error); rc != SQLITE_OK) {
        std::string message = error ? error : "unknown error";
        sqlite3_free(error);
        throw sqlite_error(std::string("exec: ") + message, rc & 0xff);
    }
}

void sqlite_connection::reset_all() {
    for (auto& [sql, stmt] : statements_) stmt->release();
}

sqlite_statement& sqlite_connection::cached(const char* sql) {
    auto& slot = statements_[sql];
    if (!slot) slot = std::make_unique<sqlite_statement>(db_, sql);
    return slot->reset();
}

}  // namespace ticketd
