#include "system/time.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace ticketd {

unix_ms now_unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

namespace {
std::tm to_tm(unix_ms t) {
    std::time_t secs = static_cast<std::time_t>(t >= 0 ? t / 1000 : (t - 999) / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return tm;
}

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
}
}  // namespace

void append_rfc3339(std::string& out, unix_ms t) {
    // Civil date from days since the epoch (exact for every year 0000..9999), digits by
    // hand: this runs several times for every job document rendered.
    using namespace std::chrono;
    const int64_t day = (t >= 0 ? t : t - 86'399'999) / 86'400'000;
    const int64_t ms_of_day = t - day * 86'400'000;
    const year_month_day ymd{sys_days{days{day}}};
    const auto put = [](char* p, unsigned v, int width) {
        for (int i = width - 1; i >= 0; --i, v /= 10) p[i] = static_cast<char>('0' + v % 10);
    };
    char buf[] = "0000-00-00T00:00:00.000Z";
    put(buf, static_cast<unsigned>(static_cast<int>(ymd.year())), 4);
    put(buf + 5, static_cast<unsigned>(ymd.month()), 2);
    put(buf + 8, static_cast<unsigned>(ymd.day()), 2);
    put(buf + 11, static_cast<unsigned>(ms_of_day / 3'600'000), 2);
    put(buf + 14, static_cast<unsigned>(ms_of_day / 60'000 % 60), 2);
    put(buf + 17, static_cast<unsigned>(ms_of_day / 1000 % 60), 2);
    put(buf + 20, static_cast<unsigned>(ms_of_day % 1000), 3);
    out.append(buf, sizeof buf - 1);
}

std::string format_rfc3339(unix_ms t) {
    std::string out;
    append_rfc3339(out, t);
    return out;
}

std::optional<unix_ms> parse_rfc3339(std::string_view s) {
    int year, mon, day, hour, min, sec;
    if (!digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mon) ||
        s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, min) || s[16] != ':' ||
        !digits(s, 17, 2, sec)) {
        return std::nullopt;
    }
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
        return std::nullopt;
    }
    size_t pos = 19;
    int millis = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        int scale = 100;
        size_t start = pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            millis += (s[pos] - '0') * scale;
            scale /= 10;
            ++pos;
        }
        if (pos == start) return std::nullopt;
    }
    int offset_minutes = 0;
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        int oh, om;
        if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
            !digits(s, pos + 4, 2, om)) {
            return std::nullopt;
        }
        offset_minutes = (s[pos] == '+' ? 1 : -1) * (oh * 60 + om);
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    const std::time_t secs = timegm(&tm);
    return (static_cast<unix_ms>(secs) - offset_minutes * 60) * 1000 + millis;
}

std::string format_http_date(unix_ms t) {
    const std::tm tm = to_tm(t);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return buf;
}

}  // namespace ticketd
