// Periodic jobs through the real binary: a schedule fires ordinary jobs keyed by their
// slot (schedule:<type>:<name>:<time>); GET /v1/job-types shows its next and last fire;
// across a stop, a kill -9 and a reload no slot fires twice, and the slots missed while
// the daemon was down fire as each schedule's catch_up says (none, last, all).
#include "support/daemon_test.hpp"

#include <map>
#include <set>

using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {

// Three schedules every 2 s, one per catch_up policy.
daemon_config_text periodic_config() {
    daemon_config_text c;
    std::string yaml = "type: tick\nplugin: @FIXTURES@/sleep.so\nworkers: 2\nschedules:\n";
    for (const char* policy : {"none", "last", "all"}) {
        yaml += std::string("  ") + policy + ":\n    cron: \"*/2 * * * * *\"\n    catch_up: " + policy +
                "\n    input: {delayMs: 1}\n    labels: {policy: " + policy + "}\n";
    }
    c.job_types["tick.yaml"] = yaml;
    return c;
}

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Slot time (ms) -> job ids, of one schedule, from the jobs' idempotency keys.
std::map<int64_t, std::vector<std::string>> fired(const daemon_process& d, const std::string& name,
                                                  const header_list& auth = {}) {
    std::map<int64_t, std::vector<std::string>> out;
    std::string token;
    do {
        const auto page =
            d.get("/v1/jobs?type=tick&pageSize=500" + (token.empty() ? "" : "&pageToken=" + token), auth).json();
        for (const auto& j : page["jobs"]) {
            const std::string key = j.value("idempotencyKey", "");
            const std::string prefix = "schedule:tick:" + name + ":";
            if (key.rfind(prefix, 0) == 0) out[unix_ms_of(key.substr(prefix.size()))].push_back(j.value("id", ""));
        }
        token = page["nextPageToken"].is_string() ? page["nextPageToken"].get<std::string>() : "";
    } while (!token.empty());
    return out;
}

nlohmann::json schedule_doc(const daemon_process& d, const std::string& name, const header_list& auth = {}) {
    const auto types = d.get("/v1/job-types", auth).json()["jobTypes"];
    for (const auto& t : types) {
        if (t.value("type", "") != "tick") continue;
        for (const auto& s : t["schedules"]) {
            if (s.value("name", "") == name) return s;
        }
    }
    return nlohmann::json::object();
}

// Every slot fired at most once, 2 s apart.
void expect_once_each(const std::map<int64_t, std::vector<std::string>>& slots) {
    for (const auto& [slot, ids] : slots) {
        EXPECT_EQ(ids.size(), 1u) << "slot " << slot << " fired " << ids.size() << " times";
        EXPECT_EQ(slot % 2000, 0) << slot;
    }
}

}  // namespace

TEST(periodic, schedules_fire_once_per_slot_across_restarts_and_reloads_and_catch_up_as_told) {
    daemon_process d(periodic_config());
    d.start();
    ASSERT_TRUE(eventually([&] { return fired(d, "all").size() >= 2; }, 20s));
    const auto doc = schedule_doc(d, "all");
    EXPECT_EQ(doc.value("cron", ""), "*/2 * * * * *");
    EXPECT_EQ(doc.value("timezone", ""), "UTC");
    EXPECT_TRUE(doc["nextFireAt"].is_string()) << doc.dump();
    ASSERT_TRUE(doc["lastJobId"].is_string()) << doc.dump();
    const auto last = d.get("/v1/jobs/" + doc.value("lastJobId", "") + "?redirect=false").json();
    EXPECT_EQ(last["labels"]["policy"], "all");
    EXPECT_EQ(last.value("principal", ""), "anonymous");

    // Down long enough to miss at least three slots.
    ASSERT_EQ(d.stop(), 0);
    const int64_t down_at = now_ms();
    ASSERT_TRUE(eventually([&] { return now_ms() > down_at + 7'000; }, 20s));
    const int64_t up_at = now_ms();
    d.start();
    ASSERT_TRUE(eventually([&] { return !fired(d, "all").empty() && fired(d, "all").rbegin()->first > up_at; }, 20s));
    const auto missed = [&](const std::string& name) {
        size_t n = 0;
        for (const auto& [slot, ids] : fired(d, name)) n += slot > down_at + 1'000 && slot < up_at - 1'000;
        return n;
    };
    EXPECT_EQ(missed("none"), 0u) << "none: the slots missed are skipped";
    EXPECT_EQ(missed("last"), 1u) << "last: only the latest missed slot fires";
    EXPECT_GE(missed("all"), 2u) << "all: every missed slot fires";
    // all: no slot lost from the first fire to now.
    const auto all = fired(d, "all");
    EXPECT_EQ(static_cast<int64_t>(all.size()), (all.rbegin()->first - all.begin()->first) / 2000 + 1);

    // A reload and a kill -9 fire nothing twice.
    d.signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return d.log_count("reload: applied") >= 1; }, 20s));
    const int64_t before_kill = now_ms();
    ASSERT_TRUE(eventually([&] { return fired(d, "all").rbegin()->first > before_kill; }, 20s));
    d.kill9();
    d.start();
    const int64_t restarted = now_ms();
    ASSERT_TRUE(eventually([&] { return fired(d, "none").rbegin()->first > restarted; }, 20s));
    for (const char* name : {"none", "last", "all"}) {
        SCOPED_TRACE(name);
        expect_once_each(fired(d, name));
    }
}

TEST(periodic, a_schedule_that_cannot_work_stops_the_start_with_its_place) {
    for (const auto& [yaml, expected] : std::vector<std::pair<std::string, std::string>>{
             {"schedules:\n  bad:\n    cron: \"61 * * * *\"\n", "tick.yaml:6:11: schedule 'bad': the minute field '61'"},
             {"schedules:\n  tz:\n    cron: \"@daily\"\n    timezone: Mars/Base\n", "unknown time zone 'Mars/Base'"},
             {"schedules:\n  Bad Name:\n    cron: \"@daily\"\n", "a schedule's name must be"},
             {"schedules:\n  nocron:\n    input: {}\n", "schedule 'nocron' has no 'cron'"},
             {"schedules:\n  p:\n    cron: \"@daily\"\n    catch_up: sometimes\n", "'catch_up' must be none, last or all"},
             {"schedules:\n  bad-input:\n    cron: \"@daily\"\n    input: {delayMs: -5}\n",
              "schedule 'bad-input': its input is not valid for job type 'tick'"},
         }) {
        daemon_config_text c;
        c.job_types["tick.yaml"] = "type: tick\nplugin: @PLUGINS@/hello.so\nworkers: 1\n" + yaml;
        daemon_process d(c);
        std::string log;
        EXPECT_NE(d.start_expect_failure(log), 0);
        EXPECT_NE(log.find(expected), std::string::npos) << expected << "\n" << log;
    }
}

// A fire refused for a reason that passes (here: its type is paused, and refuses submits
// while paused) is tried again until it goes through, as the same slot; the schedule shows
// why it was refused meanwhile.
TEST(periodic, a_refused_fire_is_tried_again_until_it_goes_through) {
    daemon_config_text c;
    c.top = "auth:\n  mode: api_keys\n  keys_file: keys.yaml\n";
    c.job_types["tick.yaml"] = "type: tick\nplugin: @FIXTURES@/sleep.so\nwhen_paused: refuse\nschedules:\n"
                               "  slow:\n    cron: \"*/6 * * * * *\"\n    principal: ops\n    input: {delayMs: 1}\n";
    daemon_process d(c);
    const auto admin = bearer(create_api_key(d, "ops", {"admin"}));
    d.start();
    ASSERT_EQ(d.post("/v1/job-types/tick/pause", "", admin).status, 200u);
    nlohmann::json refused;
    ASSERT_TRUE(eventually([&] { return (refused = schedule_doc(d, "slow", admin)["lastError"]).is_object(); }, 20s));
    const std::string detail = refused.value("detail", "");
    EXPECT_NE(detail.find("job type 'tick' is paused"), std::string::npos) << refused.dump();
    const int64_t slot = unix_ms_of(detail.substr(0, detail.find(": ")));
    EXPECT_EQ(slot % 6000, 0) << detail;
    EXPECT_FALSE(fired(d, "slow", admin).contains(slot));

    ASSERT_EQ(d.post("/v1/job-types/tick/resume", "", admin).status, 200u);
    ASSERT_TRUE(eventually([&] { return fired(d, "slow", admin).contains(slot); }, 20s)) << "the refused slot never fired";
    expect_once_each(fired(d, "slow", admin));
    EXPECT_TRUE(eventually([&] { return schedule_doc(d, "slow", admin)["lastError"].is_null(); }, 20s));
}
