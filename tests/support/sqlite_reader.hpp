// Reads a SQLite database the daemon's plugins wrote, for assertions: each row as its
// columns joined with '|' (NULL for null). Also runs statements (to hold locks, seed data).
#pragma once

#include <sqlite3.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace ticketd::test {

class sqlite_reader {
   public:
    explicit sqlite_reader(const std::string& path) {
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
            throw std::runtime_error("cannot open " + path);
        }
        sqlite3_busy_timeout(db_, 10000);
    }
    ~sqlite_reader() { sqlite3_close_v2(db_); }
    sqlite_reader(const sqlite_reader&) = delete;
    sqlite_reader& operator=(const sqlite_reader&) = delete;

    void exec(const std::string& sql) {
        char* error = nullptr;
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
            std::string why = error ? error : "?";
            sqlite3_free(error);
            throw std::runtime_error(sql + ": " + why);
        }
    }

    std::vector<std::string> rows(const std::string& sql) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
            throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
        }
        std::vector<std::string> out;
        while (sqlite3_step(s) == SQLITE_ROW) {
            std::string row;
            for (int c = 0; c < sqlite3_column_count(s); ++c) {
                if (c) row += '|';
                const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s, c));
                if (sqlite3_column_type(s, c) == SQLITE_NULL) {
                    row += "NULL";
                } else if (sqlite3_column_type(s, c) == SQLITE_FLOAT) {
                    std::string v = std::to_string(sqlite3_column_double(s, c));
                    while (v.size() > 1 && v.back() == '0' && v[v.size() - 2] != '.') v.pop_back();
                    row += v;
                } else {
                    row += text ? std::string(text, static_cast<size_t>(sqlite3_column_bytes(s, c))) : "";
                }
            }
            out.push_back(std::move(row));
        }
        sqlite3_finalize(s);
        return out;
    }

   private:
    sqlite3* db_ = nullptr;
};

}  // namespace ticketd::test
