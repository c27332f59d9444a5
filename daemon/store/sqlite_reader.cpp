#include "store/sqlite_reader.hpp"

#include "store/sqlite_db.hpp"
#include "system/threads.hpp"

namespace ticketd {

sqlite_reader::sqlite_reader(std::unique_ptr<sqlite_connection> db) : db_(std::move(db)) {
    thread_ = std::thread([this] {
        name_this_thread("td-store-read");
        run_or_fail_stop("td-store-read", [this] { loop(); });
    });
}

sqlite_reader::~sqlite_reader() { stop(); }

void sqlite_reader::post(read_op op) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        reads_.push_back(std::move(op));
    }
    cv_.notify_one();
}

void sqlite_reader::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void sqlite_reader::loop() {
    for (;;) {
        read_op op;
        {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [&] { return stopping_ || !reads_.empty(); });
            if (reads_.empty()) return;
            op = std::move(reads_.front());
            reads_.pop_front();
        }
        op(*db_);
        db_->reset_all();
    }
}

}  // namespace ticketd
