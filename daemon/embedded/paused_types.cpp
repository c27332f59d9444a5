#include "embedded/paused_types.hpp"

#include "system/durable_file.hpp"
#include "system/log.hpp"

#include <fstream>

namespace ticketd {

paused_types::paused_types(std::filesystem::path file) : file_(std::move(file)) {
    std::error_code ec;
    if (!std::filesystem::exists(file_, ec)) return;
    std::ifstream in(file_);
    if (!in) throw std::runtime_error("cannot read " + file_.string() + " (the paused job types)");
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        if (line.empty()) continue;
        if (line.size() > 64 || line.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") != std::string::npos) {
            log_warning(file_.string() + ":" + std::to_string(number) + ": not a job type's name; skipped");
            continue;
        }
        types_.insert(line);
    }
}

bool paused_types::contains(const std::string& type) const {
    std::lock_guard lock(mutex_);
    return types_.contains(type);
}

void paused_types::set(const std::string& type, bool paused, std::function<void(bool ok, bool was)> stored) {
    bool was = false;
    {
        std::lock_guard lock(mutex_);
        was = types_.contains(type);
        if (paused) types_.insert(type);
        else types_.erase(type);
    }
    writer_.post([this, type, paused, was, stored = std::move(stored)] {
        std::lock_guard serial(write_mutex_);
        std::string text;
        {
            std::lock_guard lock(mutex_);
            for (const auto& t : types_) text += t + "\n";
        }
        bool ok = true;
        try {
            write_file_durably(file_, text);
        } catch (const std::exception& e) {
            log_error("job type " + type + ": the " + (paused ? "pause" : "resume") + " could not be stored: " + e.what());
            std::lock_guard lock(mutex_);
            if (was) types_.insert(type);
            else types_.erase(type);
            ok = false;
        }
        stored(ok, was);
    });
}

}  // namespace ticketd
