// The store's reader: one thread with its own read-only connection that runs lookups and
// lists in order, so that no caller ever blocks on disk.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>

namespace ticketd {

class sqlite_connection;

class sqlite_reader {
   public:
    using read_op = std::function<void(sqlite_connection&)>;

    explicit sqlite_reader(std::unique_ptr<sqlite_connection> db);
    ~sqlite_reader();
    sqlite_reader(const sqlite_reader&) = delete;
    sqlite_reader& operator=(const sqlite_reader&) = delete;

    // Runs `op` on the reader thread (it must catch what it throws).
    void post(read_op op);
    // Runs `read` on the reader thread and waits for its value (or rethrows): startup only.
    template <class T>
    T run_now(const std::function<T(sqlite_connection&)>& read) {
        std::promise<T> result;
        post([&](sqlite_connection& db) {
            try {
                if constexpr (std::is_void_v<T>) {
                    read(db);
                    result.set_value();
                } else {
                    result.set_value(read(db));
                }
            } catch (...) {
                result.set_exception(std::current_exception());
            }
        });
        return result.get_future().get();
    }
    // Runs what was posted, then ends the thread. Later posts are dropped.
    void stop();

   private:
    void loop();

    std::unique_ptr<sqlite_connection> db_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<read_op> reads_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace ticketd
