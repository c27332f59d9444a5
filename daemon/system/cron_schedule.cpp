#include "system/cron_schedule.hpp"

#include <date/tz.h>

#include <array>
#include <charconv>
#include <stdexcept>
#include <vector>

namespace ticketd {

namespace {

struct field_spec {
    const char* name;
    unsigned min, max;
    const std::array<const char*, 12>* names;  // value `min + i` may be written names[i]
};

constexpr std::array<const char*, 12> month_names = {"jan", "feb", "mar", "apr", "may", "jun",
                                                     "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<const char*, 12> weekday_names = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

[[noreturn]] void refuse(const field_spec& f, std::string_view part, const std::string& why) {
    throw std::invalid_argument("the " + std::string(f.name) + " field '" + std::string(part) + "': " + why);
}

unsigned number(const field_spec& f, std::string_view text, std::string_view part) {
    if (f.names != nullptr) {
        for (size_t i = 0; i < f.names->size() && (*f.names)[i] != nullptr; ++i) {
            const std::string_view name = (*f.names)[i];
            if (text.size() == 3 && std::equal(text.begin(), text.end(), name.begin(), [](char a, char b) {
                    return (a | 0x20) == b;  // ASCII, either case
                })) {
                return f.min + static_cast<unsigned>(i);
            }
        }
    }
    unsigned v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        refuse(f, part, "expected a number" + std::string(f.names ? " or a name" : "") + ", found '" +
                            std::string(text) + "'");
    }
    return v;
}

// One field: a comma list of *, N, N-M, each optionally /STEP.
template <size_t bits>
std::bitset<bits> parse_field(const field_spec& f, std::string_view text, bool& any) {
    std::bitset<bits> out;
    any = text == "*" || text == "?";
    const unsigned top = f.max == 7 ? 7 : f.max;  // day-of-week takes 7 for Sunday too
    size_t start = 0;
    while (start <= text.size()) {
        const size_t comma = text.find(',', start);
        const std::string_view part = text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        if (part.empty()) refuse(f, text, "an empty list item");
        std::string_view range = part;
        unsigned step = 1;
        if (const auto slash = part.find('/'); slash != std::string_view::npos) {
            range = part.substr(0, slash);
            step = number(f, part.substr(slash + 1), part);
            if (step == 0) refuse(f, part, "a step of 0");
        }
        unsigned lo = f.min, hi = top;
        if (range != "*" && range != "?") {
            const auto dash = range.find('-');
            lo = number(f, range.substr(0, dash), part);
            hi = dash == std::string_view::npos ? (part.find('/') != std::string_view::npos ? top : lo)
                                                : number(f, range.substr(dash + 1), part);
        }
        if (lo < f.min || hi > top || lo > hi) {
            refuse(f, part, "expected values from " + std::to_string(f.min) + " to " + std::to_string(f.max) +
                                (lo > hi ? ", the range's start first" : ""));
        }
        for (unsigned v = lo; v <= hi; v += step) out.set(f.max == 7 ? v % 7 : v);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return out;
}

std::string_view expand_macro(std::string_view e) {
    if (e == "@yearly" || e == "@annually") return "0 0 1 1 *";
    if (e == "@monthly") return "0 0 1 * *";
    if (e == "@weekly") return "0 0 * * 0";
    if (e == "@daily" || e == "@midnight") return "0 0 * * *";
    if (e == "@hourly") return "0 * * * *";
    throw std::invalid_argument("'" + std::string(e) + "' is not one of @yearly, @monthly, @weekly, @daily, @hourly");
}

}  // namespace

cron_schedule cron_schedule::parse(std::string_view expression, const std::string& time_zone) {
    if (expression.size() > 256) throw std::invalid_argument("the expression is longer than 256 characters");
    if (!expression.empty() && expression.front() == '@') expression = expand_macro(expression);
    std::vector<std::string_view> fields;
    size_t i = 0;
    while (i < expression.size()) {
        while (i < expression.size() && (expression[i] == ' ' || expression[i] == '\t')) ++i;
        const size_t start = i;
        while (i < expression.size() && expression[i] != ' ' && expression[i] != '\t') ++i;
        if (i > start) fields.push_back(expression.substr(start, i - start));
    }
    if (fields.size() != 5 && fields.size() != 6) {
        throw std::invalid_argument("expected five fields (minute hour day-of-month month day-of-week), or six with "
                                    "the second first, found " +
                                    std::to_string(fields.size()));
    }
    static const field_spec second{"second", 0, 59, nullptr}, minute{"minute", 0, 59, nullptr}, hour{"hour", 0, 23, nullptr},
        day{"day-of-month", 1, 31, nullptr}, month{"month", 1, 12, &month_names},
        weekday{"day-of-week", 0, 7, &weekday_names};
    cron_schedule s;
    bool unused = false;
    if (fields.size() == 6) {
        s.seconds_ = parse_field<60>(second, fields.front(), unused);
        fields.erase(fields.begin());
    } else {
        s.seconds_.set(0);
    }
    s.minutes_ = parse_field<60>(minute, fields[0], unused);
    s.hours_ = parse_field<24>(hour, fields[1], unused);
    s.days_ = parse_field<32>(day, fields[2], s.any_day_);
    s.months_ = parse_field<13>(month, fields[3], unused);
    s.weekdays_ = parse_field<7>(weekday, fields[4], s.any_weekday_);
    try {
        s.zone_ = date::locate_zone(time_zone);
    } catch (const std::exception&) {
        throw std::invalid_argument("unknown time zone '" + time_zone + "' (expected a tz database name such as "
                                    "UTC or Europe/Paris)");
    }
    return s;
}

bool cron_schedule::day_matches(unsigned day_of_month, unsigned month, unsigned weekday) const {
    if (!months_.test(month)) return false;
    const bool dom = days_.test(day_of_month), dow = weekdays_.test(weekday);
    // crontab(5): with both fields restricted, either one matching is enough.
    if (any_day_ && any_weekday_) return true;
    if (any_day_) return dow;
    if (any_weekday_) return dom;
    return dom || dow;
}

std::optional<unix_ms> cron_schedule::next_after(unix_ms after) const {
    using namespace std::chrono;
    const auto* zone = static_cast<const date::time_zone*>(zone_);
    const sys_seconds after_s{seconds{after >= 0 ? after / 1000 : (after - 999) / 1000}};
    // Local civil time, from the second after `after`'s on.
    const auto local = zone->to_local(after_s) + seconds{1};
    // The earliest local time that maps to a time after `after` (skipped local times
    // map to the daylight-saving change; repeated ones to their first occurrence).
    auto to_sys = [&](date::local_seconds t) -> sys_seconds {
        const auto info = zone->get_info(t);
        if (info.result == date::local_info::nonexistent) return info.second.begin;
        return sys_seconds{t.time_since_epoch() - info.first.offset};
    };
    const auto first_day = floor<days>(local);
    for (int d = 0; d < 366 * 8; ++d) {
        const auto day = first_day + days{d};
        const date::year_month_day ymd{day};
        const unsigned weekday = date::weekday{day}.c_encoding();
        if (!day_matches(static_cast<unsigned>(ymd.day()), static_cast<unsigned>(ymd.month()), weekday)) continue;
        for (unsigned h = 0; h < 24; ++h) {
            if (!hours_.test(h)) continue;
            for (unsigned m = 0; m < 60; ++m) {
                if (!minutes_.test(m)) continue;
                const date::local_seconds minute_start{(day + hours{h} + minutes{m}).time_since_epoch()};
                if (minute_start + minutes{1} <= local) continue;
                for (unsigned sec = 0; sec < 60; ++sec) {
                    if (!seconds_.test(sec)) continue;
                    const auto t = minute_start + seconds{sec};
                    if (t < local) continue;
                    const sys_seconds fire = to_sys(t);
                    if (fire > after_s) return duration_cast<milliseconds>(fire.time_since_epoch()).count();
                }
            }
        }
    }
    return std::nullopt;
}

}  // namespace ticketd
