// Startup refuses bad configs and plugins with a located message; --check-config.
#include "support/daemon_process.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace ticketd::test;

namespace {
// Starts a daemon with `file` in jobs.d set to `yaml`; it must exit 78 and its log must
// contain every one of `expected`.
void expect_startup_failure(const std::string& file, const std::string& yaml,
                            const std::vector<std::string>& expected) {
    daemon_config_text c;
    c.job_types[file] = yaml;
    daemon_process d(c);
    std::string log;
    EXPECT_EQ(d.start_expect_failure(log), 78) << log;  // EX_CONFIG: not restarted
    for (const auto& text : expected) EXPECT_NE(log.find(text), std::string::npos) << text << "\n" << log;
}
}  // namespace

TEST(startup, check_config_accepts_a_good_config) {
    daemon_process d;
    std::string out;
    EXPECT_EQ(d.check_config(out), 0) << out;
    EXPECT_NE(out.find("config OK"), std::string::npos) << out;
    EXPECT_NE(out.find("job type hello: plugin hello 1.0.0"), std::string::npos) << out;
}

TEST(startup, an_unknown_key_stops_startup_with_file_line_and_fix) {
    expect_startup_failure("hello.yaml", "type: hello\nplugin: @PLUGINS@/hello.so\nworkerz: 2\n",
                           {"hello.yaml:3:1: unknown key 'workerz'", "fix:"});
    daemon_config_text c;
    c.job_types["hello.yaml"] = "type: hello\nplugin: @PLUGINS@/hello.so\nworkerz: 2\n";
    std::string out;
    EXPECT_EQ(daemon_process(c).check_config(out), 1);
    EXPECT_NE(out.find("workerz"), std::string::npos) << out;
}

TEST(startup, a_missing_plugin_stops_startup_naming_the_job_type_file) {
    expect_startup_failure("ghost.yaml", "type: ghost\nplugin: @PLUGINS@/ghost.so\n",
                           {"ghost.yaml:2:9: job type 'ghost'", "no such file"});
}

TEST(startup, a_file_that_is_not_a_plugin_is_rejected_before_running_its_code) {
    expect_startup_failure("bogus.yaml", "type: bogus\nplugin: " + std::string(TICKETD_BINARY) + "\n",
                           {"ticketd_plugin_v1"});
}

TEST(startup, settings_failing_the_plugin_schema_stop_startup) {
    expect_startup_failure("hello.yaml", "type: hello\nplugin: @PLUGINS@/hello.so\nsettings:\n  greeting: [1, 2]\n",
                           {"hello.yaml:2:9: job type 'hello': ",
                            "hello.so: expected settings matching the plugin's schema, found settings/greeting must "
                            "be of type string, not array; fix: correct the job type's 'settings'"});
}

TEST(startup, settings_refused_by_create_stop_startup) {
    expect_startup_failure("throw.yaml", "type: throw\nplugin: @FIXTURES@/throw.so\nsettings:\n  refuse: true\n",
                           {"throw.so: expected create() to start the job type, found it failed: refusing these "
                            "settings; fix: what the plugin said above"});
    // A constructor failing for another reason is reported as what it threw.
    expect_startup_failure("throw.yaml", "type: throw\nplugin: @FIXTURES@/throw.so\nsettings:\n  open: /nope/model.bin\n",
                           {"found it failed: cannot open /nope/model.bin: No such file or directory"});
}

TEST(startup, a_job_type_declared_twice_stops_startup) {
    expect_startup_failure("hello2.yaml", "type: hello\nplugin: @PLUGINS@/hello.so\n",
                           {"hello2.yaml:1:1: job type 'hello' is also declared in ",
                            "hello.yaml; fix: give each job type one file"});
}

// A state directory in which the engine cannot make its own directories (here
// `attempts` is a file) stops the start with a message, not a crash.
TEST(startup, a_state_directory_it_cannot_set_up_stops_startup_with_a_message) {
    daemon_process d;
    std::filesystem::create_directories(d.dir() / "state");
    std::ofstream(d.dir() / "state" / "attempts") << "not a directory";
    std::string log;
    EXPECT_EQ(d.start_expect_failure(log), 78) << log;  // EX_CONFIG: not restarted
    EXPECT_NE(log.find("startup failed: cannot create"), std::string::npos) << log;
    EXPECT_NE(log.find("attempts"), std::string::npos) << log;
}
