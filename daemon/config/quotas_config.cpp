// The quotas: section of ticketd.yaml (docs/security.md, "Quotas, rate limits and fair
// queues"), and the fair queues' weights it gives.
#include "config/yaml_section.hpp"
#include "model/principal_weights.hpp"

#include <charconv>
#include <map>

namespace ticketd {

namespace {

// One principal's limits: the keys given, the rest from `base`.
principal_limits read_limits(section& s, const principal_limits& base) {
    principal_limits l = base;
    l.max_live_jobs = s.integer("max_live_jobs", l.max_live_jobs, 0, 1'000'000'000);
    l.max_upload_bytes = s.size("max_upload_bytes", l.max_upload_bytes, 0, 1ULL << 50);
    if (const auto priority = s.get("max_priority")) {
        const std::string text = priority->IsScalar() ? priority->Scalar() : "";
        int32_t value = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc() || end != text.data() + text.size() || value < -1000 || value > 1000) {
            s.fail(*priority, "'max_priority' must be a whole number from -1000 to 1000, found '" + text + "'",
                   "write the highest priority this principal may ask for, e.g. 0");
        }
        l.max_priority = value;
    }
    if (const auto rate = s.get("submit_rate")) {
        const std::string text = rate->IsScalar() ? rate->Scalar() : "";
        const auto slash = text.find('/');
        static const std::map<std::string, double, std::less<>> per = {{"s", 1}, {"m", 60}, {"h", 3600}};
        uint64_t n = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
        const std::string unit = slash == std::string::npos ? "s" : text.substr(slash + 1);
        if (ec != std::errc() || (end != text.data() + text.size() && end != text.data() + slash) || !per.contains(unit) ||
            n > 1'000'000) {
            s.fail(*rate, "'submit_rate' must be a number of submits per s, m or h, found '" + text + "'",
                   "write e.g. 50/s, 600/m or 0 (no limit)");
        }
        l.submit_rate = static_cast<double>(n) / per.find(unit)->second;
    }
    l.submit_burst = s.integer("submit_burst", l.submit_burst, 0, 1'000'000);
    l.weight = static_cast<unsigned>(s.integer("weight", l.weight, 1, 1000));
    s.finish();
    return l;
}

}  // namespace

quotas_config load_quotas(section& quotas) {
    quotas_config out;
    auto defaults = quotas.child("default");
    out.defaults = read_limits(defaults, out.defaults);
    if (const auto named = quotas.get("principals")) {
        if (!named->IsMap()) {
            quotas.fail(*named, "'quotas.principals' must map principal names to their limits",
                        "write e.g. 'billing: {max_live_jobs: 5000, weight: 2}'");
        }
        for (const auto& kv : *named) {
            const std::string name = kv.first.Scalar();
            section one(kv.second, quotas.file(), "quotas.principals." + name);
            out.principals[name] = read_limits(one, out.defaults);
        }
    }
    quotas.finish();
    return out;
}

std::shared_ptr<const principal_weights> weights_of(const quotas_config& quotas) {
    auto weights = std::make_shared<principal_weights>();
    weights->fallback = quotas.defaults.weight;
    for (const auto& [name, limits] : quotas.principals) weights->named.emplace(name, limits.weight);
    return weights;
}

}  // namespace ticketd
