// SIGHUP reload: job types are added, resized, removed (when idle) and replaced; a bad
// configuration is refused with a log line and ticketd_config_last_reload_successful 0,
// and the running configuration keeps serving.
#include "support/daemon_test.hpp"

#include <csignal>
#include <fstream>

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {

class reload : public daemon_test {
   protected:
    void write_type(const std::string& file, const std::string& yaml) {
        std::ofstream(d.dir() / "jobs.d" / file)
            << replace_plugins(yaml);
    }
    static std::string replace_plugins(std::string yaml) {
        const std::string key = "@PLUGINS@";
        for (auto pos = yaml.find(key); pos != std::string::npos; pos = yaml.find(key)) {
            yaml.replace(pos, key.size(), TICKETD_PLUGIN_DIR);
        }
        return yaml;
    }
    size_t count(const std::string& needle) const { return d.log_count(needle); }
    // Sends SIGHUP and waits for the outcome's log line; returns true when applied.
    bool sighup() {
        const size_t applied = count("reload: applied"), refused = count("reload refused");
        d.signal(SIGHUP);
        EXPECT_TRUE(eventually([&] { return count("reload: applied") > applied || count("reload refused") > refused; }, 20s));
        return count("reload: applied") > applied;
    }
    nlohmann::json type_info(const std::string& type) {
        for (const auto& t : d.get("/v1/job-types").member("jobTypes")) {
            if (t.value("type", "") == type) return t;
        }
        return nullptr;
    }
    double metric(const std::string& name) {
        const std::string text = d.get("/metrics").body;
        const auto pos = text.find("\n" + name + " ");
        return pos == std::string::npos ? -1 : std::stod(text.substr(pos + name.size() + 2));
    }
};

}  // namespace

TEST_F(reload, adds_a_type_and_changes_pools_and_limits_in_place) {
    write_type("hello.yaml", "type: hello\nplugin: @PLUGINS@/hello.so\nworkers: 4\nqueue_capacity: 7\nretention: 2d\n");
    write_type("hi.yaml", "type: hi\nplugin: @PLUGINS@/hello.so\nsettings:\n  greeting: Hi\n");
    ASSERT_TRUE(sighup()) << d.log();
    const auto hello = type_info("hello");
    EXPECT_EQ(hello.value("workers", 0), 4);
    EXPECT_EQ(hello.value("queueCapacity", 0), 7) << hello.dump();
    ASSERT_TRUE(type_info("hi").is_object());
    const auto id = submit_id("hi", {{"name", "reload"}});
    const auto job = d.wait_terminal(id);
    ASSERT_EQ(job.value("status", ""), "succeeded");
    EXPECT_EQ(d.get("/v1/jobs/" + id + "/result").json().value("greeting", ""), "Hi, reload!");
    EXPECT_EQ(metric("ticketd_config_last_reload_successful"), 1);
    EXPECT_NE(d.log().find("added hi"), std::string::npos);
    EXPECT_NE(d.log().find("hello: 2 -> 4 workers"), std::string::npos) << d.log();

    // And shrinks again: the extra workers retire; jobs still run.
    write_type("hello.yaml", "type: hello\nplugin: @PLUGINS@/hello.so\nworkers: 1\n");
    ASSERT_TRUE(sighup());
    EXPECT_EQ(type_info("hello").value("workers", 0), 1);
    EXPECT_EQ(d.wait_terminal(submit_id("hello")).value("status", ""), "succeeded");
}

TEST_F(reload, a_bad_config_is_refused_and_the_old_one_keeps_running) {
    write_type("broken.yaml", "type: broken\nplugin: @PLUGINS@/hello.so\nworkers: lots\n");
    EXPECT_FALSE(sighup());
    EXPECT_NE(d.log().find("broken.yaml:3:"), std::string::npos) << d.log();
    EXPECT_EQ(metric("ticketd_config_last_reload_successful"), 0);
    EXPECT_EQ(d.wait_terminal(submit_id("hello")).value("status", ""), "succeeded");

    // A plugin that does not load: refused too, nothing half-applied.
    write_type("broken.yaml", "type: broken\nplugin: @PLUGINS@/no-such-plugin.so\n");
    write_type("hello.yaml", "type: hello\nplugin: @PLUGINS@/hello.so\nworkers: 3\n");
    EXPECT_FALSE(sighup());
    EXPECT_NE(d.log().find("no-such-plugin.so"), std::string::npos);
    EXPECT_EQ(type_info("hello").value("workers", 0), 2);
    EXPECT_TRUE(type_info("broken").is_null());

    std::filesystem::remove(d.dir() / "jobs.d" / "broken.yaml");
    EXPECT_TRUE(sighup());
    EXPECT_EQ(metric("ticketd_config_last_reload_successful"), 1);
    EXPECT_EQ(type_info("hello").value("workers", 0), 3);
}

TEST_F(reload, a_type_is_removed_only_when_it_has_no_unfinished_jobs) {
    const auto id = submit_id("sleep", {{"delayMs", 60000}});
    ASSERT_TRUE(eventually([&] { return d.get("/v1/jobs/" + id).json().value("status", "") == "running"; }, 10s));
    std::filesystem::remove(d.dir() / "jobs.d" / "sleep.yaml");
    EXPECT_FALSE(sighup());
    EXPECT_NE(d.log().find("job type 'sleep' has 1 unfinished jobs"), std::string::npos) << d.log();
    EXPECT_TRUE(type_info("sleep").is_object());

    ASSERT_EQ(d.post("/v1/jobs/" + id + "/cancel", "").status, 202u);
    d.wait_terminal(id);
    // The job is terminal once stored; its worker is free a moment later.
    ASSERT_TRUE(eventually([&] { return type_info("sleep").value("busyWorkers", 1) == 0; }, 10s));
    EXPECT_TRUE(sighup());
    EXPECT_TRUE(type_info("sleep").is_null());
    expect_problem(d.submit("sleep"), 400, "unknown-job-type");
    // The removed type's job is still readable.
    EXPECT_EQ(d.get("/v1/jobs/" + id).json().value("status", ""), "canceled");
}

TEST_F(reload, new_settings_replace_an_idle_type) {
    write_type("hello.yaml", "type: hello\nplugin: @PLUGINS@/hello.so\nsettings:\n  greeting: Howdy\n");
    ASSERT_TRUE(sighup());
    EXPECT_NE(d.log().find("replaced hello"), std::string::npos);
    const auto id = submit_id("hello", {{"name", "pardner"}});
    ASSERT_EQ(d.wait_terminal(id).value("status", ""), "succeeded");
    EXPECT_EQ(d.get("/v1/jobs/" + id + "/result").json().value("greeting", ""), "Howdy, pardner!");
}
