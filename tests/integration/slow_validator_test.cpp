// A plugin's validate() runs off the io threads, on its job type's own validation pool: a
// validator that blocks holds up neither the io threads (health checks, polls, other
// connections) nor the submits of other job types.
#include "support/daemon_test.hpp"

#include <fstream>
#include <future>

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {

size_t lines_in(const std::filesystem::path& file) {
    std::ifstream in(file);
    size_t n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
}

}  // namespace

class slow_validator : public daemon_test {};

TEST_F(slow_validator, blocks_only_its_own_types_submits) {
    const auto go = d.dir() / "go";
    const auto entered = d.dir() / "go.entered";
    // Both validation threads of `sleep` (validate_threads: 2 by default) block until `go`
    // exists; each says so in `go.entered`. Validated on the io threads, each would hold
    // one (there are two) and every connection on it.
    std::vector<std::future<http_result>> blocked;
    for (int i = 0; i < 2; ++i) {
        blocked.push_back(std::async(std::launch::async, [&] {
            return d.submit("sleep", {{"validateUntil", go.string()}, {"validateEntered", entered.string()}});
        }));
    }
    ASSERT_TRUE(eventually([&] { return lines_in(entered) == 2; }, 30s));

    for (int i = 0; i < 8; ++i) EXPECT_EQ(d.get("/healthz").status, 200u);  // new connections, both io threads
    const auto other = d.submit("hello", {{"name", "Other"}});
    ASSERT_EQ(other.status, 202u) << other.body;
    EXPECT_EQ(d.wait_terminal(other.json().value("id", "")).value("status", ""), "succeeded");
    for (auto& f : blocked) EXPECT_EQ(f.wait_for(0s), std::future_status::timeout);  // still validating

    std::ofstream(go).put('\n');
    for (auto& f : blocked) {
        const auto r = f.get();
        EXPECT_EQ(r.status, 202u) << r.body;
    }
}
