// Startup refuses bad configs and plugins with a located message; --check-config.
#include "support/daemon_process.hpp"

#include <gtest/gtest.h>

#include <fstream>

using namespace ticketd::test;

TEST(startup, check_config_accepts_a_good_config) {
    daemon_process d;
    std::string out;
    EXPECT_EQ(d.check_config(out), 0) << out;
    EXPECT_NE(out.find("config OK"), std::string::npos) << out;
    EXPECT_NE(out.find("job type hello: plugin hello 1.0.0"), std::string::npos) << out;
}

TEST(startup, an_unknown_key_stops_startup_with_file_line_and_fix) {
    daemon_config_text c;
    c.job_types["hello.yaml"] = "type: hello\nplugin: @PLUGINS@/hello.so\nworkerz: 2\n";
    daemon_process d(c);
    std::string log;
    EXPECT_EQ(d.start_expect_failure(log), 1);
    EXPECT_NE(log.find("hello.yaml:3:1: unknown key 'workerz'"), std::string::npos) << log;
    EXPECT_NE(log.find("fix:"), std::string::npos) << log;
    std::string out;
    EXPECT_EQ(d.check_config(out), 1);
    EXPECT_NE(out.find("workerz"), std::string::npos) << out;
}

TEST(startup, a_missing_plugin_stops_startup_naming_the_job_type_file) {
    daemon_config_text c;
    c.job_types["ghost.yaml"] = "type: ghost\nplugin: @PLUGINS@/ghost.so\n";
    daemon_process d(c);
    std::string log;
    EXPECT_EQ(d.start_expect_failure(log), 1);
    EXPECT_NE(log.find("ghost.yaml:2:9: job type 'ghost'"), std::string::npos) << log;
    EXPECT_NE(log.find("no such file"), std::string::npos) << log;
}

TEST(startup, a_file_that_is_not_a_plugin_is_rejected_before_running_its_code) {
    daemon_config_text c;
    c.job_types["bogus.yaml"] = "type: bogus\nplugin: " + std::string(TICKETD_BINARY) + "\n";
    daemon_process d(c);
    std::string log;
    EXPECT_EQ(d.start_expect_failure(log), 1);
    EXPECT_NE(log.find("ticketd_plugin_v1"), std::string::npos) << log;
}

TEST(startup, settings_failing_the_plugin_schema_stop_startup) {
    daemon_config_text c;
    c.job_types["hello.yaml"] = "type: hello\nplugin: @PLUGINS@/hello.so\nsettings:\n  greeting: [1, 2]\n";
    daemon_process d(c);
    std::string log;
    EXPECT_EQ(d.start_expect_failure(log), 1);
    EXPECT_NE(log.find("hello.yaml:2:9: job type 'hello': "), std::string::npos) << log;
    EXPECT_NE(log.find("hello.so: expected settings matching the plugin's schema, found settings/greeting must be of "
                       "type string, not array; fix: correct the job type's 'settings'"),
              std::string::npos)
        << log;
}

TEST(startup, settings_refused_by_create_stop_startup) {
    daemon_config_text c;
    c.job_types["throw.yaml"] = "type: throw\nplugin: @FIXTURES@/throw.so\nsettings:\n  refuse: true\n";
    daemon_process d(c);
    std::string log;
    EXPECT_EQ(d.start_expect_failure(log), 1);
    EXPECT_NE(log.find("throw.so: expected create() to accept the settings, found: refusing these settings"),
              std::string::npos)
        << log;
}

TEST(startup, a_job_type_declared_twice_stops_startup) {
    daemon_config_text c;
    c.job_types["hello2.yaml"] = "type: hello\nplugin: @PLUGINS@/hello.so\n";
    daemon_process d(c);
    std::string log;
    EXPECT_EQ(d.start_expect_failure(log), 1);
    EXPECT_NE(log.find("hello2.yaml:1:1: job type 'hello' is also declared in "), std::string::npos) << log;
    EXPECT_NE(log.find("hello.yaml; fix: give each job type one file"), std::string::npos) << log;
}
