#include "uploads/upload_store.hpp"
#include "system/threads.hpp"

#include "system/durable_file.hpp"
#include "system/log.hpp"
#include "system/random_id.hpp"
#include "system/sha256.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <system_error>

namespace ticketd {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view incoming_prefix = ".incoming-";

// Writes one upload to a temporary file and hashes it on the way.
class upload_sink final : public body_sink {
   public:
    upload_sink(fs::path temp, std::shared_ptr<void> reservation)
        : temp_(std::move(temp)), reservation_(std::move(reservation)) {
        fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        if (fd_ < 0) throw_errno("create " + temp_.string());
    }
    ~upload_sink() override {
        if (fd_ >= 0) ::close(fd_);
        if (!kept_) {
            std::error_code ec;
            fs::remove(temp_, ec);
        }
    }

    bool write(const char* data, size_t size) override {
        hash_.update(data, size);
        size_ += size;
        while (size > 0) {
            const ssize_t n = ::write(fd_, data, size);
            if (n < 0) {
                if (errno == EINTR) continue;
                error_ = errno;
                log_error("uploads: write " + temp_.string() + ": " + std::strerror(errno));
                return false;
            }
            data += n;
            size -= static_cast<size_t>(n);
        }
        return true;
    }

    // fsync, make read-only and move into place. Throws std::system_error.
    void finish(const fs::path& final_path) {
        if (::fchmod(fd_, 0440) != 0) throw_errno("chmod " + temp_.string());
        ::close(fd_);
        fd_ = -1;
        rename_durably(temp_, final_path);
        kept_ = true;
    }

    bool out_of_space() const override { return error_ == ENOSPC || error_ == EDQUOT; }
    uint64_t size() const { return size_; }
    std::string sha256() { return hash_.finish_hex(); }

   private:
    fs::path temp_;
    std::shared_ptr<void> reservation_;  // of the principal's upload quota, given back with the sink
    int fd_ = -1;
    bool kept_ = false;
    int error_ = 0;  // errno of a failed write
    uint64_t size_ = 0;
    sha256_stream hash_;
};

}  // namespace

upload_store::upload_store(fs::path dir, job_store& store, std::chrono::milliseconds ttl)
    : dir_(std::move(dir)), store_(store), ttl_(ttl) {
    create_durable_directories(dir_);
    background_ = std::thread([this] {
        name_this_thread("td-uploads");
        run_or_fail_stop("td-uploads", [this] { background_loop(); });
    });
}

upload_store::~upload_store() {
    {
        std::lock_guard lock(tasks_mutex_);
        stopping_ = true;
    }
    tasks_cv_.notify_all();
    background_.join();
}

void upload_store::run_in_background(std::function<void()> task) {
    {
        std::lock_guard lock(tasks_mutex_);
        tasks_.push_back(std::move(task));
    }
    tasks_cv_.notify_one();
}

void upload_store::background_loop() {
    for (;;) {
        std::function<void()> task;
        {
            std::unique_lock lock(tasks_mutex_);
            tasks_cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
            if (tasks_.empty()) return;  // stopping, and everything queued is done
            task = std::move(tasks_.front());
            tasks_.pop_front();
        }
        task();
    }
}

void upload_store::load() {
    std::vector<std::string> missing;
    {
        std::lock_guard lock(mutex_);
        for (auto& u : store_.load_uploads()) {
            std::error_code ec;
            const auto size = fs::file_size(dir_ / u.id, ec);
            if (ec || size != u.size) {
                log_warning("uploads: " + u.id + " has no intact file; forgetting it");
                missing.push_back(u.id);
                continue;
            }
            const std::string id = u.id;
            uploads_[id] = entry{std::move(u), {}};
        }
    }
    if (!missing.empty()) {
        std::promise<void> done;
        store_.remove_uploads(missing, [&](bool ok, const std::string& error) {
            if (!ok) log_error("uploads: cannot forget missing uploads: " + error);
            done.set_value();
        });
        done.get_future().wait();
    }
    // Files without a committed row: interrupted uploads, or a crash between the rename
    // and the commit. Nobody was told about them.
    size_t removed = 0;
    for (const auto& f : fs::directory_iterator(dir_)) {
        const std::string name = f.path().filename().string();
        if (uploads_.count(name) == 0) {
            std::error_code ec;
            fs::remove(f.path(), ec);
            ++removed;
        }
    }
    if (removed > 0) log_info("uploads: removed " + std::to_string(removed) + " unfinished upload files");
}

std::shared_ptr<body_sink> upload_store::begin(std::shared_ptr<void> reservation) {
    return std::make_shared<upload_sink>(dir_ / (std::string(incoming_prefix) + new_random_id()), std::move(reservation));
}

void upload_store::commit(std::shared_ptr<body_sink> sink, std::string principal, std::string content_type,
                          std::function<void(std::optional<upload_record>, std::string)> done) {
    run_in_background([this, sink = std::move(sink), principal = std::move(principal),
                       content_type = std::move(content_type), done = std::move(done)]() mutable {
        auto& s = static_cast<upload_sink&>(*sink);
        upload_record u;
        u.id = new_random_id();
        u.principal = std::move(principal);
        u.content_type = std::move(content_type);
        u.size = s.size();
        u.created_at = now_unix_ms();
        u.expires_at = u.created_at + ttl_.count();
        try {
            u.sha256 = s.sha256();
            s.finish(dir_ / u.id);
        } catch (const std::exception& e) {
            log_error(std::string("uploads: ") + e.what());
            done(std::nullopt, "the upload could not be stored");
            return;
        }
        sink.reset();
        store_.insert_upload(u, [this, u, done = std::move(done)](bool ok, const std::string& error) {
            if (!ok) {
                log_error("uploads: commit of " + u.id + " failed: " + error);
                std::error_code ec;
                fs::remove(dir_ / u.id, ec);
                done(std::nullopt, "the upload could not be stored");
                return;
            }
            {
                std::lock_guard lock(mutex_);
                uploads_[u.id] = entry{u, {}};
            }
            log_info("uploads: stored " + u.id + " (" + std::to_string(u.size) + " bytes, " + u.content_type + ")");
            done(u, {});
        });
    });
}

std::optional<upload_record> upload_store::find(const std::string& id, const caller& who) const {
    std::lock_guard lock(mutex_);
    auto it = uploads_.find(id);
    if (it == uploads_.end() || !who.may_see(it->second.record.principal)) return std::nullopt;
    return it->second.record;
}

void upload_store::forget(std::vector<std::string> ids, std::function<void(bool)> done) {
    store_.remove_uploads(ids, [this, ids, done = std::move(done)](bool ok, const std::string& error) {
        if (!ok) {
            log_error("uploads: cannot remove " + std::to_string(ids.size()) + " uploads: " + error);
        } else {
            for (const auto& id : ids) {
                std::error_code ec;
                fs::remove(dir_ / id, ec);
            }
        }
        done(ok);
    });
}

void upload_store::remove(const std::string& id, const caller& who,
                          std::function<void(remove_status)> done) {
    std::optional<entry> removed;
    bool in_use = false;
    {
        std::lock_guard lock(mutex_);
        auto it = uploads_.find(id);
        if (it != uploads_.end() && who.may_see(it->second.record.principal)) {
            in_use = !it->second.pinned_by.empty();
            if (!in_use) {
                removed = std::move(it->second);
                uploads_.erase(it);
            }
        }
    }
    if (in_use) return done(remove_status::in_use);
    if (!removed) return done(remove_status::not_found);
    forget({id}, [this, e = std::move(*removed), done = std::move(done)](bool ok) {
        if (!ok) {
            std::lock_guard lock(mutex_);
            uploads_.emplace(e.record.id, e);
        }
        done(ok ? remove_status::removed : remove_status::internal);
    });
}

std::vector<std::pair<std::string, std::string>> upload_store::pin(const std::string& job_id,
                                                                   const std::string& principal,
                                                                   const job_files& files, unix_ms now,
                                                                   const declared_files* declared) {
    std::vector<std::pair<std::string, std::string>> problems;
    std::lock_guard lock(mutex_);
    for (const auto& [name, upload_id] : files) {
        auto it = uploads_.find(upload_id);
        if (it == uploads_.end() || it->second.record.principal != principal) {
            problems.emplace_back(name, "no upload '" + upload_id + "'; POST the file to /v1/uploads first");
        } else if (now != 0 && it->second.record.expires_at <= now) {
            problems.emplace_back(name, "upload '" + upload_id + "' has expired; upload the file again");
        } else if (declared != nullptr) {
            if (auto unsuitable = check_upload(*declared, name, it->second.record)) {
                problems.emplace_back(name, std::move(*unsuitable));
            }
        }
    }
    if (!problems.empty()) return problems;
    for (const auto& [name, id] : files) uploads_[id].pinned_by.insert(job_id);
    return problems;
}

void upload_store::release(const std::string& job_id, const job_files& files) {
    std::lock_guard lock(mutex_);
    for (const auto& [name, id] : files) {
        auto it = uploads_.find(id);
        if (it != uploads_.end()) it->second.pinned_by.erase(job_id);
    }
}

std::shared_ptr<void> upload_store::reserve(const std::string& principal, uint64_t bytes, uint64_t quota,
                                            uint64_t& held) {
    std::lock_guard lock(mutex_);
    held = 0;
    for (const auto& [id, e] : uploads_) {
        if (e.record.principal == principal) held += e.record.size;
    }
    std::lock_guard arriving_lock(arriving_->mutex);
    uint64_t& reserved = arriving_->bytes[principal];
    held += reserved;
    if (held > quota || bytes > quota - held) {
        if (reserved == 0) arriving_->bytes.erase(principal);
        return nullptr;
    }
    reserved += bytes;
    // The handle's deleter gives the bytes back (after the upload was committed and is
    // counted as held, or was dropped).
    // (It points at the shared state, so that it is not null; it deletes nothing.)
    return std::shared_ptr<void>(arriving_.get(), [state = arriving_, principal, bytes](void*) {
        std::lock_guard release_lock(state->mutex);
        const auto it = state->bytes.find(principal);
        if (it != state->bytes.end() && (it->second -= std::min(it->second, bytes)) == 0) state->bytes.erase(it);
    });
}

std::map<std::string, std::string> upload_store::paths(const job_files& files) const {
    std::map<std::string, std::string> out;
    for (const auto& [name, id] : files) out[name] = (dir_ / id).string();
    return out;
}

void upload_store::purge(unix_ms now) {
    std::vector<std::string> expired;
    {
        std::lock_guard lock(mutex_);
        for (auto it = uploads_.begin(); it != uploads_.end();) {
            if (it->second.pinned_by.empty() && it->second.record.expires_at <= now) {
                expired.push_back(it->first);
                it = uploads_.erase(it);
            } else {
                ++it;
            }
        }
    }
    if (expired.empty()) return;
    const size_t count = expired.size();
    forget(std::move(expired), [count](bool ok) {
        if (ok) log_info("retention: purged " + std::to_string(count) + " expired uploads");
    });
}

}  // namespace ticketd
