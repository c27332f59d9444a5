// GET /v1/jobs: filters and pagination (conformance 5.7).
#include "support/daemon_test.hpp"

using namespace ticketd::test;

namespace {
class list : public daemon_test {};
}  // namespace

TEST_F(list, pages_return_every_job_once_newest_first) {
    std::vector<std::string> ids;
    for (int i = 0; i < 7; ++i) ids.push_back(submit_id("hello"));
    std::vector<std::string> seen;
    std::string token;
    int pages = 0;
    do {
        auto r = d.get("/v1/jobs?type=hello&pageSize=2" + (token.empty() ? "" : "&pageToken=" + token));
        ASSERT_EQ(r.status, 200u) << r.body;
        EXPECT_NE(r.header("Cache-Control").value_or("").find("no-store"), std::string::npos);
        const auto page = r.json();
        EXPECT_LE(page["jobs"].size(), 2u);
        for (const auto& j : page["jobs"]) seen.push_back(j["id"]);
        token = page["nextPageToken"].is_null() ? "" : page["nextPageToken"].get<std::string>();
        ++pages;
    } while (!token.empty() && pages < 10);
    EXPECT_EQ(pages, 4);
    std::vector<std::string> expected(ids.rbegin(), ids.rend());
    EXPECT_EQ(seen, expected);
}

TEST_F(list, status_and_type_filters_combine) {
    const auto ok = submit_id("sleep", {{"delayMs", 1}});
    const auto bad = submit_id("fail");
    d.wait_terminal(ok);
    d.wait_terminal(bad);
    auto ids = [&](const std::string& q) {
        std::set<std::string> out;
        for (const auto& j : d.get("/v1/jobs?" + q).member("jobs")) out.insert(j["id"]);
        return out;
    };
    EXPECT_EQ(ids("status=failed"), std::set<std::string>{bad});
    EXPECT_EQ(ids("status=succeeded&type=sleep"), std::set<std::string>{ok});
    EXPECT_EQ(ids("status=succeeded,failed"), (std::set<std::string>{ok, bad}));
    EXPECT_TRUE(ids("status=failed&type=sleep").empty());
    EXPECT_EQ(ids("createdAfter=2000-01-01T00:00:00Z&type=fail"), std::set<std::string>{bad});
    EXPECT_TRUE(ids("createdBefore=2000-01-01T00:00:00Z").empty());
}

TEST_F(list, bad_parameters_are_400) {
    expect_problem(d.get("/v1/jobs?status=sleeping"), 400, "invalid-request");
    expect_problem(d.get("/v1/jobs?pageSize=0"), 400, "invalid-request");
    expect_problem(d.get("/v1/jobs?pageSize=-3"), 400, "invalid-request");
    expect_problem(d.get("/v1/jobs?createdAfter=yesterday"), 400, "invalid-request");
    expect_problem(d.get("/v1/jobs?pageToken=garbage"), 400, "invalid-page-token");
    submit_id("hello");
    submit_id("hello");
    const std::string token = d.get("/v1/jobs?pageSize=1").json()["nextPageToken"];
    std::string tampered = token;
    tampered[0] = tampered[0] == '1' ? '2' : '1';
    expect_problem(d.get("/v1/jobs?pageToken=" + tampered), 400, "invalid-page-token");
    EXPECT_EQ(d.get("/v1/jobs?pageSize=100000").status, 200u);  // clamped
    EXPECT_EQ(d.get("/v1/jobs?unknownParam=1").status, 200u);   // ignored
}
