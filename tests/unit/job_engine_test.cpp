// The job engine (jobs/) against a backend in memory, with the real plugins: submit's
// checks and validation, running attempts (a result, a timeout, a cancel, a plugin that
// ignores both), reload and drain.
#include "jobs/job_engine.hpp"
#include "jobs/transitions.hpp"

#include "support/daemon_process.hpp"
#include "support/records.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>

using namespace ticketd;
using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {

class counting_events final : public job_type_events {
   public:
    void submitted() override {}
    void rejected(reject_reason) override { ++rejects; }
    void started(double) override {}
    void ran(double) override { ++runs; }
    void completed(job_outcome) override {}
    void retried(retry_reason) override {}
    void worker_abandoned(double change) override { abandoned += static_cast<int>(change); }
    std::atomic<int> rejects{0}, runs{0}, abandoned{0};
};

class fake_queue final : public work_queue {
   public:
    explicit fake_queue(std::string type) : type_(std::move(type)) {}
    const std::string& type() const override { return type_; }
    void close() override {
        std::lock_guard lock(mutex);
        closed = true;
        cv.notify_all();
    }
    void retire(unsigned workers) override {
        std::lock_guard lock(mutex);
        retiring += workers;
        cv.notify_all();
    }
    void set_capacity(uint64_t c) override { capacity_ = c; }
    uint64_t capacity() const override { return capacity_; }
    uint64_t size() const override {
        std::lock_guard lock(mutex);
        return jobs.size();
    }
    unix_ms oldest_created_at() const override { return 0; }
    uint64_t waiting_to_retry() const override { return 0; }
    bool paused() const override { return false; }
    uint64_t scheduled() const override { return 0; }
    bool retired() const override { return retired_; }

    const std::string type_;
    std::atomic<uint64_t> capacity_{10};
    std::atomic<bool> retired_{false};
    mutable std::mutex mutex;
    std::condition_variable cv;
    std::deque<job_record> jobs;
    bool closed = false;
    unsigned retiring = 0;
};

class plain_seat final : public worker_seat {
   public:
    void bind_to_this_thread() override {}
    void returned() override {}
};

// Jobs pushed into a queue are claimed as they are; finishes are recorded.
class fake_backend final : public job_backend {
   public:
    void attach(job_backend_host& h) override { host = &h; }
    std::shared_ptr<work_queue> make_queue(const std::string& type, uint64_t capacity, job_type_events&) override {
        auto q = std::make_shared<fake_queue>(type);
        q->capacity_ = capacity;
        queues[type] = q.get();  // the newest queue of the type
        return q;
    }
    void set_queues(const std::vector<work_queue*>& queues, const std::vector<retiring_queue>& retiring) override {
        std::lock_guard lock(mutex);
        if (refuse_set_queues) throw std::runtime_error("job type 'x' has 1 unfinished jobs");
        served.clear();
        for (auto* q : queues) served.push_back(q->type());
        for (const auto& [q, busy] : retiring) static_cast<fake_queue*>(q)->retired_ = true;
    }
    void recover() override {}
    void start() override {}
    void stop_accepting() override { accepting = false; }
    std::string trouble() const override { return {}; }
    void set_paused(const std::string&, bool, std::function<void(bool)> done) override { done(true); }
    void accept(std::shared_ptr<work_queue> q, submit_request r, std::function<void(submit_outcome)> done) override {
        job_record job = queued_job(std::to_string(accepted.size()), q->type());
        {
            std::lock_guard lock(mutex);
            accepted.push_back(r);
        }
        done({submit_status::accepted, job, {}, {}, {}});
    }
    void get(const std::string&, const caller&, std::function<void(lookup_outcome)> done) override { done({}); }
    std::optional<uint64_t> watch(const std::string&, const caller&, const std::string&, std::chrono::milliseconds,
                                  std::function<void(lookup_outcome)>) override {
        return 0;
    }
    void unwatch(const std::string&, uint64_t) override {}
    void cancel(const std::string&, const caller&, std::function<void(cancel_outcome)> done) override { done({}); }
    void remove(const std::string&, const caller&, std::function<void(remove_status)> done) override {
        done(remove_status::not_found);
    }
    void rerun(const std::string&, const caller&, uint64_t, std::function<void(rerun_outcome)> done) override {
        done({rerun_status::not_found, {}, {}});
    }
    void list(const job_query&, std::function<void(std::vector<job_record>)> done) override { done({}); }
    std::filesystem::path result_path(const std::string& id) const override { return id; }
    void read_result(const std::string&, std::function<void(std::optional<std::string>)> done) override { done({}); }
    std::unique_ptr<worker_seat> open_seat(const std::string&) override { return std::make_unique<plain_seat>(); }
    std::optional<claimed_attempt> claim(work_queue& queue, worker_seat&) override {
        auto& q = static_cast<fake_queue&>(queue);
        std::unique_lock lock(q.mutex);
        q.cv.wait(lock, [&] { return q.closed || q.retiring > 0 || !q.jobs.empty(); });
        if (q.closed) return std::nullopt;
        if (q.retiring > 0) {
            --q.retiring;
            return std::nullopt;
        }
        claimed_attempt a;
        a.job = std::move(q.jobs.front());
        q.jobs.pop_front();
        lock.unlock();
        transitions::start(a.job, now_unix_ms());
        a.control = std::make_shared<run_control>();
        std::lock_guard guard(mutex);
        running_.push_back(a);
        cv.notify_all();
        return a;
    }
    void progress(const claimed_attempt&, double, std::string) override {}
    bool finish(const claimed_attempt& a, const next_state& next, std::optional<std::string> result,
                std::function<void()>) override {
        std::lock_guard lock(mutex);
        const bool held = forget(a);
        if (held) finished.push_back({next(a.job), std::move(result)});
        cv.notify_all();
        return held;
    }
    bool finish_without_plugin(const claimed_attempt& a, const next_state& next) override {
        std::lock_guard lock(mutex);
        if (superseded.count(a.job.id)) return false;
        superseded.insert(a.job.id);  // its plugin's finish is refused; it stays running until then
        finished.push_back({next(a.job), std::nullopt});
        cv.notify_all();
        return true;
    }
    std::vector<claimed_attempt> running() const override {
        std::lock_guard lock(mutex);
        return running_;
    }
    bool wait_until_idle(std::chrono::milliseconds timeout) override {
        std::unique_lock lock(mutex);
        return cv.wait_for(lock, timeout, [&] { return running_.empty(); });
    }
    bool requeue_for_restart(const claimed_attempt& a, std::function<void()> stored) override {
        {
            std::lock_guard lock(mutex);
            requeued.push_back(a.job.id);
        }
        stored();
        return true;
    }
    void write_result_file(const std::string&, std::string_view) override {}
    uint64_t adopt_result_file(const std::string&, const std::filesystem::path&) override { return 0; }
    void remove_result_file(const std::string&) override {}
    uint64_t waiters() const override { return 0; }

    void push(const std::string& type, job_record r) {
        auto& q = *queues.at(type);
        std::lock_guard lock(q.mutex);
        q.jobs.push_back(std::move(r));
        q.cv.notify_all();
    }
    std::vector<std::pair<job_record, std::optional<std::string>>> finishes() const {
        std::lock_guard lock(mutex);
        return finished;
    }

    job_backend_host* host = nullptr;
    std::atomic<bool> accepting{true};
    std::atomic<bool> refuse_set_queues{false};
    mutable std::mutex mutex;
    std::condition_variable cv;
    std::vector<submit_request> accepted;
    std::vector<std::string> served;
    std::vector<std::string> requeued;
    std::set<std::string> superseded;
    std::map<std::string, fake_queue*> queues;

   private:
    bool forget(const claimed_attempt& a) {  // under mutex
        std::erase_if(running_, [&](const claimed_attempt& r) { return r.control == a.control; });
        return superseded.count(a.job.id) == 0;
    }
    std::vector<claimed_attempt> running_;
    std::vector<std::pair<job_record, std::optional<std::string>>> finished;
};

job_type_config type_config(const std::string& type, const std::string& plugin, unsigned validate_threads = 0) {
    job_type_config c;
    c.type = type;
    c.plugin = plugin;
    c.workers = 1;
    c.validate_threads = validate_threads;
    c.max_input_bytes = 64;
    c.retention = 60s;
    c.timeout = 10s;
    return c;
}

struct engine_test : ::testing::Test {
    temp_dir dir{"ticketd-engine"};
    fake_backend backend;
    scheduler timers;
    counting_events events;
    std::optional<job_engine> engine;
    unsigned jobs_run = 0;

    job_type_ptr make_type(const job_type_config& c) {
        const auto dir = c.plugin == "hello.so" ? std::filesystem::path(TICKETD_PLUGIN_DIR)
                                                : std::filesystem::path(TICKETD_FIXTURE_DIR);
        auto rt = std::make_shared<job_type_runtime>(c);
        rt->handler = std::make_unique<job_handler>(plugin_library::load(dir / c.plugin), c.settings);
        rt->validations = std::make_unique<task_pool>(c.validate_threads, "td-v-" + c.type);
        rt->events = &events;
        return rt;
    }
    void start(std::vector<job_type_config> types, std::chrono::milliseconds grace = 5s,
               std::chrono::milliseconds drain_timeout = 5s) {
        std::vector<job_type_ptr> runtimes;
        for (const auto& c : types) runtimes.push_back(make_type(c));
        engine.emplace(job_engine::settings{dir.path / "scratch", drain_timeout, grace}, backend, timers,
                       std::move(runtimes));
        engine->start();
    }
    void TearDown() override {
        timers.stop();
        engine.reset();
    }
    submit_outcome submit(const std::string& type, const std::string& input) {
        submit_request r;
        r.type = type;
        r.input = input;
        r.principal = "team-a";
        std::promise<submit_outcome> out;
        engine->submit(r, [&](submit_outcome o) { out.set_value(std::move(o)); });
        return out.get_future().get();
    }
    // Runs a job (its id: 32 hex digits, one per call) and returns how it finished.
    job_record run_job(const std::string& type, const std::string& input) {
        char id[33];
        std::snprintf(id, sizeof id, "%032x", ++jobs_run);
        auto r = queued_job(id, type);
        r.input = input;
        const size_t before = backend.finishes().size();
        backend.push(type, r);
        if (!eventually([&] { return backend.finishes().size() > before; })) throw std::runtime_error("no finish");
        return backend.finishes().back().first;
    }
};

}  // namespace

TEST_F(engine_test, submit_checks_the_type_the_size_and_the_plugin_before_the_backend_sees_it) {
    start({type_config("hello", "hello.so")});
    EXPECT_EQ(submit("nope", "{}").status, submit_status::unknown_type);
    const auto big = submit("hello", R"({"name":")" + std::string(100, 'x') + R"("})");
    EXPECT_EQ(big.status, submit_status::invalid_input);
    ASSERT_EQ(big.errors.size(), 1u);
    EXPECT_EQ(big.errors[0].pointer, "/input");
    const auto invalid = submit("hello", R"({"name":7})");
    EXPECT_EQ(invalid.status, submit_status::invalid_input);
    ASSERT_FALSE(invalid.errors.empty());
    EXPECT_EQ(invalid.errors[0].pointer, "/input/name");
    EXPECT_EQ(events.rejects, 2);
    EXPECT_TRUE(backend.accepted.empty());
    EXPECT_EQ(submit("hello", R"({"name":"ann"})").status, submit_status::accepted);
    ASSERT_EQ(backend.accepted.size(), 1u);
    EXPECT_EQ(backend.accepted[0].input, R"({"name":"ann"})");
}

TEST_F(engine_test, submit_validates_on_the_types_pool_and_refuses_once_draining) {
    start({type_config("hello", "hello.so", 2)});
    EXPECT_EQ(submit("hello", R"({"name":"ann"})").status, submit_status::accepted);
    EXPECT_TRUE(engine->drain());
    EXPECT_FALSE(engine->accepting());
    EXPECT_EQ(submit("hello", R"({"name":"bob"})").status, submit_status::unavailable);
    EXPECT_EQ(backend.accepted.size(), 1u);
}

TEST_F(engine_test, a_worker_runs_the_plugin_and_finishes_with_its_result) {
    start({type_config("hello", "hello.so")});
    const auto done = run_job("hello", R"({"name":"ann"})");
    EXPECT_EQ(done.status, job_status::succeeded);
    EXPECT_TRUE(done.result_inline);
    EXPECT_EQ(done.result_type, "application/json");
    EXPECT_EQ(done.expires_at, done.finished_at + 60'000);
    EXPECT_EQ(backend.finishes().back().second, R"({"attempt":1,"greeting":"Hello, ann!"})");
    EXPECT_EQ(events.runs, 1);
}

TEST_F(engine_test, a_plugin_failure_names_the_type_in_its_code) {
    start({type_config("fail", "fail.so")});
    const auto done = run_job("fail", R"({})");
    EXPECT_EQ(done.status, job_status::failed);
    ASSERT_TRUE(done.error);
    EXPECT_EQ(done.error->code.rfind("fail/", 0), 0u) << done.error->code;
}

TEST_F(engine_test, a_timeout_stops_the_plugin_and_fails_the_job) {
    auto c = type_config("hello", "hello.so");
    c.timeout = 50ms;
    start({c});
    const auto done = run_job("hello", R"({"delayMs":60000})");
    EXPECT_EQ(done.status, job_status::failed);
    EXPECT_EQ(done.error->code, "job-timeout");
}

TEST_F(engine_test, a_cancel_reaches_the_running_plugin) {
    start({type_config("hello", "hello.so")});
    backend.push("hello", [] {
        auto r = queued_job("0123456789abcdef0123456789abcdef", "hello");
        r.input = R"({"delayMs":60000})";
        return r;
    }());
    ASSERT_TRUE(eventually([&] { return backend.running().size() == 1; }));
    backend.host->cancel_requested(backend.running()[0]);
    ASSERT_TRUE(eventually([&] { return backend.finishes().size() == 1; }));
    const auto done = backend.finishes()[0].first;
    EXPECT_EQ(done.status, job_status::canceled);
    EXPECT_EQ(done.error->detail, "canceled while running");
}

TEST_F(engine_test, a_plugin_that_ignores_its_stop_is_left_behind_and_its_worker_replaced) {
    auto c = type_config("stubborn", "stubborn.so");
    c.timeout = 20ms;
    start({c}, 30ms);
    backend.push("stubborn", [] {
        auto r = queued_job("0123456789abcdef0123456789abcdef", "stubborn");
        r.input = R"({"delayMs":400})";
        return r;
    }());
    ASSERT_TRUE(eventually([&] { return backend.finishes().size() == 1; }));
    EXPECT_EQ(backend.finishes()[0].first.error->code, "job-timeout");
    EXPECT_TRUE(eventually([&] { return events.abandoned == 1; })) << "a new worker took its place";
    // The replacement serves the pool while the plugin still runs.
    const auto next = run_job("stubborn", R"({"delayMs":0})");
    EXPECT_EQ(next.status, job_status::succeeded);
    // When the abandoned plugin returns, its finish is refused and its worker leaves.
    EXPECT_TRUE(eventually([&] { return events.abandoned == 0; }));
}

TEST_F(engine_test, drain_requeues_what_ignores_the_stop_and_says_workers_are_left) {
    start({type_config("stubborn", "stubborn.so")}, 20ms, 20ms);
    backend.push("stubborn", [] {
        auto r = queued_job("0123456789abcdef0123456789abcdef", "stubborn");
        r.input = R"({"delayMs":300})";
        return r;
    }());
    ASSERT_TRUE(eventually([&] { return backend.running().size() == 1; }));
    EXPECT_FALSE(engine->drain()) << "a worker is still inside the plugin";
    EXPECT_EQ(backend.requeued, std::vector<std::string>{"0123456789abcdef0123456789abcdef"});
    EXPECT_FALSE(backend.accepting);
    // The plugin returns later: the engine's destructor joins its worker.
    ASSERT_TRUE(eventually([&] { return backend.running().empty(); }));
}

TEST_F(engine_test, reload_is_all_or_nothing) {
    start({type_config("hello", "hello.so")});
    const auto create = [&](const job_type_config& c) { return make_type(c); };
    backend.refuse_set_queues = true;
    EXPECT_THROW(engine->reload({type_config("fail", "fail.so")}, create), std::runtime_error);
    ASSERT_EQ(engine->types().size(), 1u);
    EXPECT_EQ(engine->types()[0].type, "hello");

    backend.refuse_set_queues = false;
    auto more = type_config("hello", "hello.so");
    more.workers = 3;
    const auto summary = engine->reload({more, type_config("fail", "fail.so")}, create);
    EXPECT_EQ(summary, "hello: 1 -> 3 workers; added fail");
    EXPECT_EQ(backend.served, (std::vector<std::string>{"hello", "fail"}));
    EXPECT_EQ(engine->types().size(), 2u);
    EXPECT_EQ(run_job("fail", "{}").status, job_status::failed) << "the new type runs";

    EXPECT_EQ(engine->reload({type_config("fail", "fail.so")}, create), "removed hello");
    ASSERT_EQ(engine->types().size(), 1u);
    EXPECT_EQ(engine->types()[0].type, "fail");
}
