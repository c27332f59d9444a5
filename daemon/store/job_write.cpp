#include "store/job_write.hpp"

#include <nlohmann/json.hpp>

#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <unordered_set>

namespace ticketd {

namespace {

// 2: a job ends with its first attempt of its run and its past attempts (1, without them, is still read: a journal left by
// a crash of the version before).
constexpr uint8_t format_version = 2;

class writer {
   public:
    explicit writer(std::string& out) : out_(out) {}
    template <class T>
    void num(T v) {
        static_assert(std::is_arithmetic_v<T>);
        char bytes[sizeof(T)];
        std::memcpy(bytes, &v, sizeof(T));
        out_.append(bytes, sizeof(T));
    }
    void str(std::string_view s) {
        num(static_cast<uint32_t>(s.size()));
        out_.append(s.data(), s.size());
    }

   private:
    std::string& out_;
};

class reader {
   public:
    explicit reader(std::string_view in) : in_(in) {}
    template <class T>
    T num() {
        T v;
        std::memcpy(&v, take(sizeof(T)).data(), sizeof(T));
        return v;
    }
    std::string str() { return std::string(take(num<uint32_t>())); }
    bool flag() {
        const auto b = num<uint8_t>();
        if (b > 1) throw std::runtime_error("a flag byte is " + std::to_string(b) + ", expected 0 or 1");
        return b == 1;
    }
    bool done() const { return in_.empty(); }

   private:
    std::string_view take(size_t n) {
        if (n > in_.size()) throw std::runtime_error("the record ends early");
        auto part = in_.substr(0, n);
        in_.remove_prefix(n);
        return part;
    }
    std::string_view in_;
};

void put_error(writer& w, const job_error* e) {
    w.num(static_cast<uint8_t>(e != nullptr));
    if (e == nullptr) return;
    w.str(e->code);
    w.str(e->title);
    w.str(e->detail);
}

std::shared_ptr<const job_error> get_error(reader& r) {
    if (!r.flag()) return nullptr;
    job_error e;
    e.code = r.str();
    e.title = r.str();
    e.detail = r.str();
    return std::make_shared<const job_error>(std::move(e));
}

void put_job(writer& w, const job_record& j) {
    w.str(j.id);
    w.str(j.type);
    w.str(j.principal);
    w.str(j.idempotency_key);
    w.num(static_cast<uint8_t>(j.status));
    w.num(static_cast<uint8_t>(j.cancel_requested));
    w.num(j.attempt);
    w.num(j.priority);
    for (int64_t v : {j.timeout_ms, j.created_at, j.started_at, j.updated_at, j.finished_at, j.expires_at,
                      j.not_before, j.seq}) {
        w.num(v);
    }
    w.num(static_cast<uint8_t>(j.progress_percent.has_value()));
    if (j.progress_percent) w.num(*j.progress_percent);
    w.str(j.progress_message);
    w.str(j.input);
    w.str(j.labels);
    w.str(j.files.empty() ? std::string() : files_json(j.files));
    w.str(j.result_name);
    put_error(w, j.error.get());
    w.str(j.result_type);
    w.num(j.result_size);
    w.num(static_cast<uint8_t>(j.result_inline));
    w.num(j.version);
    w.num(j.first_attempt);
    const auto past = j.past_attempts ? j.past_attempts->size() : 0;
    w.num(static_cast<uint32_t>(past));
    for (size_t i = 0; i < past; ++i) {
        const attempt_record& a = (*j.past_attempts)[i];
        w.num(a.number);
        w.num(a.started_at);
        w.num(a.finished_at);
        w.str(a.outcome);
        put_error(w, a.error.get());
    }
}

job_record get_job(reader& r, uint8_t version) {
    job_record j;
    j.id = r.str();
    j.type = r.str();
    j.principal = r.str();
    j.idempotency_key = r.str();
    const auto status = r.num<uint8_t>();
    if (status > static_cast<uint8_t>(job_status::scheduled)) {
        throw std::runtime_error("unknown job status " + std::to_string(status));
    }
    j.status = static_cast<job_status>(status);
    j.cancel_requested = r.flag();
    j.attempt = r.num<uint32_t>();
    j.priority = r.num<int32_t>();
    for (int64_t* v : {&j.timeout_ms, &j.created_at, &j.started_at, &j.updated_at, &j.finished_at,
                       &j.expires_at, &j.not_before, &j.seq}) {
        *v = r.num<int64_t>();
    }
    if (r.flag()) j.progress_percent = r.num<double>();
    j.progress_message = r.str();
    j.input = r.str();
    j.labels = r.str();
    if (auto files = r.str(); !files.empty()) j.files = parse_files_json(files);
    j.result_name = r.str();
    j.error = get_error(r);
    j.result_type = r.str();
    j.result_size = r.num<uint64_t>();
    j.result_inline = r.flag();
    j.version = r.num<uint64_t>();
    if (version < 2) return j;
    j.first_attempt = r.num<uint32_t>();
    const auto past = r.num<uint32_t>();
    if (past == 0) return j;
    if (past > 1000) throw std::runtime_error(std::to_string(past) + " past attempts, expected at most 1000");
    auto history = std::make_shared<attempt_history>(past);
    for (auto& a : *history) {
        a.number = r.num<uint32_t>();
        a.started_at = r.num<int64_t>();
        a.finished_at = r.num<int64_t>();
        a.outcome = r.str();
        a.error = get_error(r);
    }
    j.past_attempts = std::move(history);
    return j;
}

}  // namespace

std::string files_json(const job_files& files) { return nlohmann::json(files).dump(); }

namespace {
nlohmann::json error_object(const job_error& e) { return {{"code", e.code}, {"title", e.title}, {"detail", e.detail}}; }

std::shared_ptr<const job_error> error_of(const nlohmann::json& e) {
    const auto text = [&](const char* key) {
        const auto it = e.find(key);
        return it != e.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    if (!e.is_object()) return nullptr;
    return std::make_shared<const job_error>(job_error{text("code"), text("title"), text("detail")});
}

int64_t integer_of(const nlohmann::json& o, const char* key) {
    const auto it = o.find(key);
    return it != o.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}
}  // namespace

std::string error_json(const job_error& e) { return error_object(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::shared_ptr<const job_error> parse_error_json(std::string_view text) {
    return error_of(nlohmann::json::parse(text, nullptr, false));
}

std::string attempts_json(const attempt_history& attempts) {
    auto out = nlohmann::json::array();
    for (const auto& a : attempts) {
        nlohmann::json o = {{"number", a.number}, {"startedAt", a.started_at}, {"finishedAt", a.finished_at},
                            {"outcome", a.outcome}};
        if (a.error) o["error"] = error_object(*a.error);
        out.push_back(std::move(o));
    }
    return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::shared_ptr<const attempt_history> parse_attempts_json(std::string_view text) {
    const auto json = nlohmann::json::parse(text, nullptr, false);
    if (!json.is_array() || json.empty()) return nullptr;
    auto out = std::make_shared<attempt_history>();
    for (const auto& o : json) {
        if (!o.is_object()) return nullptr;
        attempt_record a;
        a.number = static_cast<uint32_t>(integer_of(o, "number"));
        a.started_at = integer_of(o, "startedAt");
        a.finished_at = integer_of(o, "finishedAt");
        if (const auto it = o.find("outcome"); it != o.end() && it->is_string()) a.outcome = it->get<std::string>();
        if (const auto it = o.find("error"); it != o.end()) a.error = error_of(*it);
        out->push_back(std::move(a));
    }
    return out;
}

job_files parse_files_json(std::string_view text) {
    const auto json = nlohmann::json::parse(text, nullptr, false);
    if (!json.is_object()) throw std::runtime_error("a job's files that are not a JSON object");
    job_files files;
    for (const auto& [name, id] : json.items()) {
        if (!id.is_string()) throw std::runtime_error("a job's file '" + name + "' whose upload id is not a string");
        files.emplace(name, id.get<std::string>());
    }
    return files;
}

void encode(const job_write& jw, std::string& out) {
    writer w(out);
    w.num(format_version);
    w.num(static_cast<uint8_t>(jw.what));
    if (jw.what == job_write::kind::remove) {
        w.str(jw.removal.job_id);
        w.str(jw.removal.type);
        w.num(jw.removal.deleted_at);
        w.num(jw.removal.expires_at);
        w.str(jw.removal.principal);
        return;
    }
    put_job(w, jw.job);
    w.num(static_cast<uint8_t>(jw.key.has_value()));
    if (jw.key) {
        w.str(jw.key->principal);
        w.str(jw.key->key);
        w.str(jw.key->job_id);
        w.str(jw.key->fingerprint);
        w.num(static_cast<uint8_t>(jw.key->job_deleted));
        w.num(jw.key->expires_at);
    }
    w.num(static_cast<uint8_t>(jw.result.has_value()));
    if (jw.result) w.str(*jw.result);
}

job_write decode_job_write(std::string_view bytes) {
    reader r(bytes);
    const auto version = r.num<uint8_t>();
    if (version < 1 || version > format_version) {
        throw std::runtime_error("format version " + std::to_string(version) + ", expected 1 to " +
                                 std::to_string(format_version));
    }
    job_write jw;
    const auto what = r.num<uint8_t>();
    if (what < 1 || what > 3) throw std::runtime_error("unknown write kind " + std::to_string(what));
    jw.what = static_cast<job_write::kind>(what);
    if (jw.what == job_write::kind::remove) {
        jw.removal.job_id = r.str();
        jw.removal.type = r.str();
        jw.removal.deleted_at = r.num<int64_t>();
        jw.removal.expires_at = r.num<int64_t>();
        if (!r.done()) jw.removal.principal = r.str();  // absent in records written before schema 7
    } else {
        jw.job = get_job(r, version);
        if (r.flag()) {
            idempotency_binding b;
            b.principal = r.str();
            b.key = r.str();
            b.job_id = r.str();
            b.fingerprint = r.str();
            b.job_deleted = r.flag();
            b.expires_at = r.num<int64_t>();
            b.seq = jw.job.seq;  // the binding's row is its job's seq
            jw.key = std::move(b);
        }
        if (r.flag()) jw.result = r.str();
    }
    if (!r.done()) throw std::runtime_error("unexpected bytes after the write");
    return jw;
}

std::vector<bool> superseded_writes(const std::vector<const job_write*>& group) {
    std::vector<bool> superseded(group.size(), false);
    std::unordered_set<std::string_view> updated_later;
    for (size_t i = group.size(); i-- > 0;) {
        const job_write* w = group[i];
        if (w == nullptr) {
            updated_later.clear();
        } else if (w->what != job_write::kind::update) {
            updated_later.erase(w->job_id());
        } else if (!updated_later.insert(w->job.id).second && !w->result) {
            superseded[i] = true;
        }
    }
    return superseded;
}

}  // namespace ticketd
