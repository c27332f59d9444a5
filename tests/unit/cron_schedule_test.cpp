// Cron expressions: fields, lists, ranges, steps, names, macros, the day-of-month /
// day-of-week rule, time zones with their daylight-saving changes, and refusals.
#include "system/cron_schedule.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>

using namespace ticketd;

namespace {
// ms since the epoch of a UTC time written "YYYY-MM-DDTHH:MM:SSZ".
unix_ms at(const char* rfc3339) { return parse_rfc3339(rfc3339).value(); }
std::string next(const cron_schedule& c, const char* after) {
    const auto t = c.next_after(at(after));
    return t ? format_rfc3339(*t) : "never";
}
std::string refusal(const char* expression, const char* zone = "UTC") {
    try {
        cron_schedule::parse(expression, zone);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST(cron_schedule, fields_lists_ranges_steps_and_names) {
    const auto every5 = cron_schedule::parse("*/5 * * * *");
    EXPECT_EQ(next(every5, "2026-12-07T10:02:30Z"), "2026-12-07T10:05:00.000Z");
    EXPECT_EQ(next(every5, "2026-12-07T10:05:00Z"), "2026-12-07T10:10:00.000Z") << "strictly after";
    EXPECT_EQ(next(every5, "2026-12-31T23:58:00Z"), "2027-01-01T00:00:00.000Z");
    const auto office = cron_schedule::parse("30 9-17/4 * * mon-fri");
    EXPECT_EQ(next(office, "2026-12-05T12:00:00Z"), "2026-12-07T09:30:00.000Z") << "Saturday -> Monday";
    EXPECT_EQ(next(office, "2026-12-07T09:30:00Z"), "2026-12-07T13:30:00.000Z");
    EXPECT_EQ(next(office, "2026-12-07T17:31:00Z"), "2026-12-08T09:30:00.000Z");
    const auto list = cron_schedule::parse("0,15 0 1 JAN,jul *");
    EXPECT_EQ(next(list, "2026-01-01T00:00:00Z"), "2026-01-01T00:15:00.000Z");
    EXPECT_EQ(next(list, "2026-01-01T00:15:00Z"), "2026-07-01T00:00:00.000Z");
    EXPECT_EQ(next(cron_schedule::parse("0 12 * * 7"), "2026-12-07T00:00:00Z"), "2026-12-13T12:00:00.000Z")
        << "7 is Sunday too";
    EXPECT_EQ(next(cron_schedule::parse("0 0 29 2 *"), "2026-03-01T00:00:00Z"), "2028-02-29T00:00:00.000Z");
    EXPECT_EQ(next(cron_schedule::parse("0 0 30 2 *"), "2026-03-01T00:00:00Z"), "never");
    EXPECT_EQ(next(cron_schedule::parse("5/20 * * * *"), "2026-12-07T10:46:00Z"), "2026-12-07T11:05:00.000Z");
}

TEST(cron_schedule, day_of_month_and_day_of_week_restricted_together_match_either) {
    // crontab(5): the 13th, and every Friday.
    const auto c = cron_schedule::parse("0 0 13 * fri");
    EXPECT_EQ(next(c, "2026-12-07T00:00:00Z"), "2026-12-11T00:00:00.000Z");  // a Friday
    EXPECT_EQ(next(c, "2026-12-11T00:00:00Z"), "2026-12-13T00:00:00.000Z");  // the 13th, a Sunday
}

TEST(cron_schedule, a_sixth_field_in_front_is_the_second) {
    const auto c = cron_schedule::parse("*/20 * * * * *");
    EXPECT_EQ(next(c, "2026-12-07T10:00:05Z"), "2026-12-07T10:00:20.000Z");
    EXPECT_EQ(next(c, "2026-12-07T10:00:40Z"), "2026-12-07T10:01:00.000Z");
    EXPECT_EQ(next(cron_schedule::parse("30 0 12 * * *"), "2026-12-07T12:00:30Z"), "2026-12-08T12:00:30.000Z");
    EXPECT_EQ(next(cron_schedule::parse("* * * * *"), "2026-12-07T10:00:05.500Z"), "2026-12-07T10:01:00.000Z");
}

TEST(cron_schedule, macros) {
    EXPECT_EQ(next(cron_schedule::parse("@hourly"), "2026-12-07T10:00:00Z"), "2026-12-07T11:00:00.000Z");
    EXPECT_EQ(next(cron_schedule::parse("@daily"), "2026-12-07T10:00:00Z"), "2026-12-08T00:00:00.000Z");
    EXPECT_EQ(next(cron_schedule::parse("@weekly"), "2026-12-07T10:00:00Z"), "2026-12-13T00:00:00.000Z");
    EXPECT_EQ(next(cron_schedule::parse("@monthly"), "2026-12-07T10:00:00Z"), "2027-01-01T00:00:00.000Z");
    EXPECT_EQ(next(cron_schedule::parse("@yearly"), "2026-12-07T10:00:00Z"), "2027-01-01T00:00:00.000Z");
}

TEST(cron_schedule, time_zones_and_daylight_saving_changes) {
    const auto paris = cron_schedule::parse("0 3 * * *", "Europe/Paris");
    EXPECT_EQ(next(paris, "2026-12-07T00:00:00Z"), "2026-12-07T02:00:00.000Z") << "03:00 CET is 02:00 UTC";
    EXPECT_EQ(next(paris, "2026-07-07T00:00:00Z"), "2026-07-07T01:00:00.000Z") << "03:00 CEST is 01:00 UTC";
    // 2026-03-29 02:00 -> 03:00 in Paris: 02:30 does not exist and fires at the change.
    const auto skipped = cron_schedule::parse("30 2 * * *", "Europe/Paris");
    EXPECT_EQ(next(skipped, "2026-03-28T12:00:00Z"), "2026-03-29T01:00:00.000Z");
    EXPECT_EQ(next(skipped, "2026-03-29T01:00:00Z"), "2026-03-30T00:30:00.000Z");
    // 2026-10-25 03:00 -> 02:00: 02:30 happens twice and fires once, the first time.
    EXPECT_EQ(next(skipped, "2026-10-24T12:00:00Z"), "2026-10-25T00:30:00.000Z");
    EXPECT_EQ(next(skipped, "2026-10-25T00:30:00Z"), "2026-10-26T01:30:00.000Z");
    // Every 15 minutes through the repeated hour: its local times fired the first time
    // round (02:45 CEST is 00:45 UTC), so the second round is skipped, as cron does.
    const auto quarter = cron_schedule::parse("*/15 * * * *", "Europe/Paris");
    EXPECT_EQ(next(quarter, "2026-10-25T00:45:00Z"), "2026-10-25T02:00:00.000Z");
}

TEST(cron_schedule, refusals_name_the_field_and_what_it_expected) {
    EXPECT_NE(refusal("* * * *").find("expected five fields"), std::string::npos);
    EXPECT_NE(refusal("* * * * * * *").find("expected five fields"), std::string::npos);
    EXPECT_NE(refusal("60 * * * * *").find("the second field '60'"), std::string::npos);
    EXPECT_NE(refusal("60 * * * *").find("the minute field '60': expected values from 0 to 59"), std::string::npos)
        << refusal("60 * * * *");
    EXPECT_NE(refusal("* 5-2 * * *").find("the hour field '5-2'"), std::string::npos);
    EXPECT_NE(refusal("*/0 * * * *").find("a step of 0"), std::string::npos);
    EXPECT_NE(refusal("* * 0 * *").find("day-of-month"), std::string::npos);
    EXPECT_NE(refusal("* * * foo *").find("the month field 'foo': expected a number or a name"), std::string::npos);
    EXPECT_NE(refusal("* * * * 8").find("day-of-week"), std::string::npos);
    EXPECT_NE(refusal("1,,2 * * * *").find("an empty list item"), std::string::npos);
    EXPECT_NE(refusal("@reboot").find("@reboot"), std::string::npos);
    EXPECT_NE(refusal("* * * * *", "Mars/Olympus").find("unknown time zone 'Mars/Olympus'"), std::string::npos);
    EXPECT_NE(refusal("-1 * * * *").find("minute"), std::string::npos);
    EXPECT_NE(refusal("99999999999999999999 * * * *").find("minute"), std::string::npos);
    EXPECT_NE(refusal(std::string(300, '*').c_str()).find("longer than 256"), std::string::npos);
}
