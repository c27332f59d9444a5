// A cron expression, as crontab(5) writes one (minute hour day-of-month month day-of-week,
// with lists, ranges, steps, month and weekday names, and @hourly ... @yearly), or with a
// sixth field in front for the second (as Quartz and Spring write them), read in a time
// zone of the tz database, and the times it fires. Debian has no C or C++ cron
// library (docs/dependencies.md); the zones come from Howard Hinnant's date library
// (libhowardhinnant-date-dev), which reads the system's tzdata.
#pragma once

#include "system/time.hpp"

#include <bitset>
#include <optional>
#include <string>
#include <string_view>

namespace ticketd {

class cron_schedule {
   public:
    // Throws std::invalid_argument saying which field is wrong and what it expected, or
    // that the time zone is unknown.
    static cron_schedule parse(std::string_view expression, const std::string& time_zone = "UTC");

    // The first time it fires strictly after `after` (whole seconds, ms since the epoch);
    // nullopt when it never does (e.g. "0 0 30 2 *") within the next eight years.
    // A local time that a daylight-saving change skips fires at the change; one that
    // occurs twice fires the first time only.
    std::optional<unix_ms> next_after(unix_ms after) const;

   private:
    bool day_matches(unsigned day_of_month, unsigned month, unsigned weekday) const;

    std::bitset<60> seconds_;
    std::bitset<60> minutes_;
    std::bitset<24> hours_;
    std::bitset<32> days_;      // 1-31
    std::bitset<13> months_;    // 1-12
    std::bitset<7> weekdays_;   // 0 (Sunday) - 6
    bool any_day_ = false;      // day-of-month is *
    bool any_weekday_ = false;  // day-of-week is *
    const void* zone_ = nullptr;  // a date::time_zone, which lives as long as the process
};

}  // namespace ticketd
