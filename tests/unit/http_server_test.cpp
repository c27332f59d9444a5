// The HTTP session's last line of defence: a handler that throws (a bug) costs its request
// a 500 problem and its connection, never the io thread; the server goes on serving.
#include "http/http_server.hpp"
#include "support/http_client.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>

using namespace ticketd;
using ticketd::test::raw_connection;
using namespace std::chrono_literals;

namespace {

class throwing_handler final : public request_handler {
   public:
    void handle(http_request request, respond_fn respond) override {
        if (request.path == "/throw") throw std::runtime_error("a bug in a handler");
        if (request.path == "/answer-then-throw") {
            respond(ok());
            throw std::logic_error("thrown after answering");
        }
        respond(ok());
    }
    body_plan plan_body(const http_request& head) override {
        if (head.path == "/throw-planning") throw std::runtime_error("a bug in plan_body");
        return {};
    }
    http_response protocol_error(unsigned status, std::string_view code, std::string_view detail,
                                 const std::string& request_id) override {
        http_response res;
        res.status = status;
        res.set("Content-Type", "application/problem+json");
        res.body = std::string(code) + "|" + std::string(detail) + "|" + request_id;
        return res;
    }

   private:
    static http_response ok() {
        http_response res;
        res.body = "ok";
        return res;
    }
};

class http_server_test : public ::testing::Test {
   protected:
    void SetUp() override {
        config.listen_port = 0;
        server.emplace(io, config, handler, std::vector<boost::asio::io_context*>{&io});
        server->listen();
        thread = std::thread([this] { io.run(); });
    }
    void TearDown() override {
        io.stop();
        thread.join();
    }
    std::string exchange(const std::string& request) {
        raw_connection c(server->port());
        EXPECT_TRUE(c.send(request));
        return c.read_until_close(20s);
    }

    server_config config;
    boost::asio::io_context io{1};
    throwing_handler handler;
    std::optional<http_server> server;
    std::thread thread;
};

}  // namespace

TEST_F(http_server_test, a_handler_that_throws_gets_a_500_and_its_connection_closed) {
    const std::string answer = exchange("GET /throw HTTP/1.1\r\nHost: x\r\nX-Request-Id: req-1\r\n\r\n");
    EXPECT_EQ(answer.rfind("HTTP/1.1 500", 0), 0u) << answer;
    EXPECT_NE(answer.find("internal|"), std::string::npos) << answer;
    EXPECT_NE(answer.find("req-1"), std::string::npos) << answer;  // the id the log line names
    EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
    // The same io thread goes on serving.
    EXPECT_NE(exchange("GET /fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").find("\r\n\r\nok"),
              std::string::npos);
}

TEST_F(http_server_test, a_throw_after_answering_and_in_plan_body_are_contained_too) {
    const std::string after = exchange("GET /answer-then-throw HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(after.rfind("HTTP/1.1 500", 0), 0u) << after;
    const std::string planning = exchange("POST /throw-planning HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab");
    EXPECT_EQ(planning.rfind("HTTP/1.1 500", 0), 0u) << planning;
    EXPECT_NE(exchange("GET /fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").find("\r\n\r\nok"),
              std::string::npos);
}
