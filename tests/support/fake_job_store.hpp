// A job_store in memory for unit tests of what sits above the store. As the real one, it
// answers on its own thread (never on the caller's, which may hold a lock the answer
// takes), in order; a test may hold the writes (to see what happens while a write is
// being made durable) or make them fail (a full disk).
#pragma once

#include "store/job_store.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ticketd::test {

class fake_job_store final : public job_store {
   public:
    fake_job_store() : thread_([this] { loop(); }) {}
    ~fake_job_store() override { stop(); }
    // Answers what is queued, then ends the store's thread: a test calls it before the
    // objects its answers reach (an upload store, a backend) go.
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    // Writes from now on wait in held() until release_held(); fail_writes: they fail.
    std::atomic<bool> hold_writes{false};
    std::atomic<bool> fail_writes{false};

    job_identity new_job_id() override {
        std::lock_guard lock(mutex_);
        const int64_t seq = ++seq_;
        char id[33];
        std::snprintf(id, sizeof id, "%032llx", static_cast<unsigned long long>(seq));
        return {seq, id};
    }
    void insert(const job_record& job, std::optional<idempotency_binding> key, write_done done) override {
        write([this, job, key] {
            jobs_[job.id] = job;
            if (key) keys_[key->seq] = *key;
        }, std::move(done));
    }
    void update(const job_record& job, write_done done) override {
        write([this, job] { jobs_[job.id] = job; }, std::move(done));
    }
    void update(const job_record& job, std::string result, write_done done) override {
        write([this, job, result] {
            jobs_[job.id] = job;
            results_[job.id] = result;
        }, std::move(done));
    }
    void read_result(const std::string& job_id, std::function<void(std::optional<std::string>)> done) override {
        std::optional<std::string> out;
        {
            std::lock_guard lock(mutex_);
            if (const auto it = results_.find(job_id); it != results_.end()) out = it->second;
        }
        done(std::move(out));
    }
    void remove(const tombstone& t, write_done done) override {
        write([this, t] {
            jobs_.erase(t.job_id);
            results_.erase(t.job_id);
            tombstones_[t.job_id] = t;
            for (auto& [seq, k] : keys_) {
                if (k.job_id == t.job_id) k.job_deleted = true;
            }
        }, std::move(done));
    }
    void purge(unix_ms, int64_t, std::function<void(purge_report)> done) override {
        post([done = std::move(done)] { done({}); });
    }
    void find(const std::string& id, std::function<void(job_lookup)> done) override {
        post([this, id, done = std::move(done)] {
            job_lookup out;
            {
                std::lock_guard lock(mutex_);
                if (const auto it = jobs_.find(id); it != jobs_.end()) out.job = it->second;
                else if (const auto t = tombstones_.find(id); t != tombstones_.end()) {
                    out.gone = true;
                    out.gone_principal = t->second.principal;
                }
            }
            done(std::move(out));
        });
    }
    void find_key(int64_t seq, std::function<void(std::optional<std::string>)> done) override {
        post([this, seq, done = std::move(done)] {
            std::optional<std::string> out;
            {
                std::lock_guard lock(mutex_);
                if (const auto it = keys_.find(seq); it != keys_.end()) out = it->second.job_id;
            }
            done(std::move(out));
        });
    }
    void list(const job_query& q, std::function<void(std::vector<job_record>)> done) override {
        post([this, q, done = std::move(done)] {
            std::vector<job_record> out;
            {
                std::lock_guard lock(mutex_);
                for (auto it = jobs_.rbegin(); it != jobs_.rend() && out.size() < q.limit; ++it) {
                    if (it->second.principal == q.principal) out.push_back(it->second);
                }
            }
            done(std::move(out));
        });
    }
    void load_unfinished(const std::function<void(job_record&&)>& each) override {
        for (auto r : jobs()) {
            if (!is_terminal(r.status)) each(std::move(r));
        }
    }
    void load_bindings(const std::function<void(idempotency_binding&&)>& each) override {
        std::vector<idempotency_binding> keys;
        {
            std::lock_guard lock(mutex_);
            for (const auto& [seq, k] : keys_) keys.push_back(k);
        }
        for (auto& k : keys) each(std::move(k));
    }
    size_t count_unfinished() override { return jobs().size(); }
    size_t count_bindings() override {
        std::lock_guard lock(mutex_);
        return keys_.size();
    }
    void insert_upload(const upload_record&, write_done done) override {
        post([done = std::move(done)] { done(true, {}); });
    }
    void remove_uploads(std::vector<std::string>, write_done done) override {
        post([done = std::move(done)] { done(true, {}); });
    }
    std::vector<upload_record> load_uploads() override { return {}; }
    std::string trouble() const override { return fail_writes ? "the disk is full" : ""; }
    void close() override {}

    // What the store holds now.
    std::vector<job_record> jobs() const {
        std::lock_guard lock(mutex_);
        std::vector<job_record> out;
        for (const auto& [id, r] : jobs_) out.push_back(r);
        return out;
    }
    std::optional<job_record> job(const std::string& id) const {
        std::lock_guard lock(mutex_);
        const auto it = jobs_.find(id);
        return it == jobs_.end() ? std::nullopt : std::optional<job_record>(it->second);
    }
    // Puts a job in as a previous process left it (for recovery).
    void seed(const job_record& r) {
        std::lock_guard lock(mutex_);
        jobs_[r.id] = r;
        seq_ = std::max(seq_, r.seq);
    }
    size_t held() const {
        std::lock_guard lock(mutex_);
        return held_.size();
    }
    // Applies and answers the held writes, in order (on the store's thread).
    void release_held() {
        std::lock_guard lock(mutex_);
        for (auto& w : held_) tasks_.push_back(std::move(w));
        held_.clear();
        cv_.notify_all();
    }

   private:
    void write(std::function<void()> apply, write_done done) {
        auto run = [this, apply = std::move(apply), done = std::move(done)] {
            if (fail_writes) return done(false, "the disk is full");
            {
                std::lock_guard lock(mutex_);
                apply();
            }
            done(true, {});
        };
        std::lock_guard lock(mutex_);
        if (hold_writes) {
            held_.push_back(std::move(run));
        } else {
            tasks_.push_back(std::move(run));
            cv_.notify_all();
        }
    }
    void post(std::function<void()> task) {
        std::lock_guard lock(mutex_);
        tasks_.push_back(std::move(task));
        cv_.notify_all();
    }
    void loop() {
        for (;;) {
            std::function<void()> task;
            {
                std::unique_lock lock(mutex_);
                cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
                if (tasks_.empty()) return;
                task = std::move(tasks_.front());
                tasks_.pop_front();
            }
            task();
        }
    }

    mutable std::mutex mutex_;
    int64_t seq_ = 0;
    std::map<std::string, job_record> jobs_;
    std::map<std::string, std::string> results_;
    std::map<int64_t, idempotency_binding> keys_;
    std::map<std::string, tombstone> tombstones_;
    std::deque<std::function<void()>> held_;
    std::deque<std::function<void()>> tasks_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;  // last: it starts once the rest is made
};

}  // namespace ticketd::test
