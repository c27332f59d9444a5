#include "system/media_type.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace ticketd {

namespace {
std::string lower_essence(std::string_view content_type) {
    auto s = content_type.substr(0, content_type.find(';'));
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}
}  // namespace

bool is_json_media_type(std::string_view content_type) {
    const std::string type = lower_essence(content_type);
    if (type == "application/json") return true;
    return type.rfind("application/", 0) == 0 && type.size() > 17 && type.substr(type.size() - 5) == "+json";
}

bool is_media_type(std::string_view v) {
    const auto token = [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || std::string_view("!#$&-^_.+").find(ch) != std::string_view::npos;
    };
    const auto end = v.find(';');
    const auto essence = v.substr(0, end);
    const auto slash = essence.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == essence.size() || v.size() > 255) return false;
    const auto type = essence.substr(0, slash), sub = essence.substr(slash + 1);
    return std::all_of(type.begin(), type.end(), token) && std::all_of(sub.begin(), sub.end(), token) &&
           std::all_of(v.begin(), v.end(), [](char ch) { return ch >= 0x20 && ch < 0x7f; });
}

bool media_type_matches(std::string_view content_type, std::string_view pattern) {
    const std::string type = lower_essence(content_type), want = lower_essence(pattern);
    if (want == "*/*") return type.find('/') != std::string::npos;
    if (want.size() > 2 && want.ends_with("/*")) return type.starts_with(want.substr(0, want.size() - 1));
    return type == want;
}

}  // namespace ticketd
