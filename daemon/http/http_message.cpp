#include "http/http_message.hpp"

#include <strings.h>

namespace ticketd {

std::optional<std::string_view> http_request::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (k == name) return std::string_view(v);
    }
    return std::nullopt;
}

size_t http_request::header_count(std::string_view name) const {
    size_t n = 0;
    for (const auto& kv : headers) n += kv.first == name;
    return n;
}

std::optional<std::string_view> http_request::query_param(std::string_view name) const {
    for (const auto& [k, v] : query) {
        if (k == name) return std::string_view(v);
    }
    return std::nullopt;
}

http_response& http_response::set(std::string name, std::string value) {
    for (auto& kv : headers) {
        if (kv.first.size() == name.size() && strncasecmp(kv.first.c_str(), name.c_str(), name.size()) == 0) {
            kv.second = std::move(value);
            return *this;
        }
    }
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
}

std::optional<std::string_view> http_response::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (k.size() == name.size() && strncasecmp(k.c_str(), name.data(), name.size()) == 0) {
            return std::string_view(v);
        }
    }
    return std::nullopt;
}

void client_gone_signal::on_gone(std::function<void()> fn) {
    std::function<void()> start;
    {
        std::lock_guard lock(mutex_);
        if (!fired_) {
            callbacks_.push_back(std::move(fn));
            start.swap(start_watching_);
        }
    }
    if (start) return start();
    if (fn) fn();
}

void client_gone_signal::set_watcher(std::function<void()> start_watching) {
    std::lock_guard lock(mutex_);
    start_watching_ = std::move(start_watching);
}

void client_gone_signal::fire() {
    std::vector<std::function<void()>> callbacks;
    {
        std::lock_guard lock(mutex_);
        if (fired_) return;
        fired_ = true;
        callbacks.swap(callbacks_);
    }
    for (auto& fn : callbacks) fn();
}

bool percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
    out.clear();
    out.reserve(in.size());
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '%') {
            if (i + 2 >= in.size()) return false;
            const int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
            if (hi < 0 || lo < 0) return false;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return true;
}

}  // namespace ticketd
