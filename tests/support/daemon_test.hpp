// Base fixture: one real daemon per test, its log printed when the test fails.
#pragma once

#include "support/daemon_process.hpp"

#include <gtest/gtest.h>

#include <iostream>

namespace ticketd::test {

class daemon_test : public ::testing::Test {
   protected:
    explicit daemon_test(daemon_config_text config = {}) : d(std::move(config)) {}
    void SetUp() override { d.start(); }
    void TearDown() override {
        if (HasFailure()) std::cerr << "---- ticketd log ----\n" << d.log() << "---------------------\n";
    }

    std::string submit_id(const std::string& type, const nlohmann::json& input = nlohmann::json::object()) {
        auto r = d.submit(type, input);
        EXPECT_EQ(r.status, 202u) << r.body;
        return r.json().value("id", "");
    }

    daemon_process d;
};

// A fixture whose daemon runs the config that `Make` returns.
template <daemon_config_text (*Make)()>
class daemon_test_with : public daemon_test {
   protected:
    daemon_test_with() : daemon_test(Make()) {}
};

// Every problem answer has the RFC 9457 shape with our stable code (conformance 73, 77).
inline void expect_problem(const http_result& r, unsigned status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.header("Content-Type").value_or(""), "application/problem+json");
    const auto p = nlohmann::json::parse(r.body, nullptr, false);
    ASSERT_TRUE(p.is_object()) << r.body;
    EXPECT_EQ(p.value("status", 0u), status);
    EXPECT_EQ(p.value("code", ""), code) << r.body;
    EXPECT_FALSE(p.value("title", "").empty());
    const std::string type = p.value("type", ""), suffix = "/problems/" + code;
    EXPECT_EQ(type.rfind("http", 0), 0u) << p.dump();  // absolute
    EXPECT_TRUE(type.size() > suffix.size() && type.compare(type.size() - suffix.size(), suffix.size(), suffix) == 0)
        << p.dump();
    EXPECT_EQ(p.value("requestId", ""), r.header("X-Request-Id").value_or("?"));
}

}  // namespace ticketd::test
