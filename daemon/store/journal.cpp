#include "store/journal.hpp"

#include "system/durable_file.hpp"
#include "system/log.hpp"

#include <zlib.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <system_error>

namespace ticketd {

namespace {

constexpr size_t header_bytes = 16;  // length, checksum, position

std::string errno_text() { return std::strerror(errno); }

// CRC-32 (ISO-HDLC), zlib's: several times faster than a byte-at-a-time table on these
// records (docs/performance.md).
uint32_t checksum(uint64_t position, std::string_view payload) {
    uLong crc = crc32(0, reinterpret_cast<const Bytef*>(&position), sizeof position);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size()));
    return static_cast<uint32_t>(crc);
}

// The journal's errors are journal_error, whatever failed underneath.
void sync_dir(const std::filesystem::path& dir) {
    try {
        sync_directory(dir);
    } catch (const std::system_error& e) {
        throw journal_error(std::string("journal: cannot sync a directory: ") + e.what());
    }
}

std::string read_file(const std::filesystem::path& file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw journal_error("journal: cannot open " + file.string() + ": " + errno_text());
    std::string out;
    char buf[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const auto why = errno_text();
            ::close(fd);
            throw journal_error("journal: cannot read " + file.string() + ": " + why);
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
}

// The offset of the first record after `from` whose header and checksum hold and whose
// position is `expected` or later (npos: none). Each byte offset is tried: only records
// whose position is plausible for what is left of the segment get their checksum taken.
size_t find_record_after(const std::string& bytes, size_t from, uint64_t expected) {
    for (size_t at = from + 1; at + header_bytes <= bytes.size(); ++at) {
        uint32_t length, sum;
        uint64_t position;
        std::memcpy(&length, bytes.data() + at, 4);
        std::memcpy(&sum, bytes.data() + at + 4, 4);
        std::memcpy(&position, bytes.data() + at + 8, 8);
        const size_t left = bytes.size() - at - header_bytes;
        if (position < expected || position - expected > (bytes.size() - from) / header_bytes) continue;
        if (length > left) continue;
        if (checksum(position, std::string_view(bytes.data() + at + header_bytes, length)) == sum) return at;
    }
    return std::string::npos;
}

constexpr const char* spare_name = "spare";

// Bytes an unprivileged writer may still use on the file system of `dir` (nullopt: unknown).
std::optional<uint64_t> free_bytes(const std::filesystem::path& dir) {
    struct statvfs s {};
    if (::statvfs(dir.c_str(), &s) != 0) return std::nullopt;
    return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
}

std::string segment_name(uint64_t first) {
    char name[40];
    std::snprintf(name, sizeof name, "%020llu.journal", static_cast<unsigned long long>(first));
    return name;
}

}  // namespace

journal::journal(std::filesystem::path dir, uint64_t segment_bytes)
    : dir_(std::move(dir)), segment_bytes_(segment_bytes) {
    try {
        create_durable_directories(dir_);
    } catch (const std::exception& e) {
        throw journal_error("journal: cannot create " + dir_.string() + ": " + e.what());
    }
    std::error_code ec;
    // A spare is never part of the journal: one left by the last run may be half written.
    std::filesystem::remove(dir_ / spare_name, ec);
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
        const auto name = entry.path().filename().string();
        if (entry.path().extension() != ".journal") continue;
        const auto stem = entry.path().stem().string();
        uint64_t first = 0;
        const auto [end, parsed] = std::from_chars(stem.data(), stem.data() + stem.size(), first);
        if (stem.size() != 20 || parsed != std::errc() || end != stem.data() + stem.size()) {
            throw journal_error("journal: " + entry.path().string() +
                                " is not a journal segment (expected a 20-digit name below 2^64); fix: move it out of " +
                                dir_.string());
        }
        segments_[first] = entry.path();
    }
}

journal::~journal() {
    if (fd_ >= 0) ::close(fd_);
}

uint64_t journal::replay(uint64_t after, const std::function<void(uint64_t, std::string_view)>& each) {
    uint64_t expected = 0;  // the next position; 0 before the first segment
    for (auto it = segments_.begin(); it != segments_.end(); ++it) {
        const uint64_t first = it->first;
        const std::filesystem::path& file = it->second;
        const bool last = std::next(it) == segments_.end();
        if (expected == 0 && first > after + 1) {
            throw journal_error("journal: records " + std::to_string(after + 1) + " to " + std::to_string(first - 1) +
                                " are missing before " + file.string() +
                                " (acknowledged writes would be lost); fix: restore the journal directory " +
                                "from the same backup as the database, or move it away to start without them");
        }
        if (expected != 0 && first != expected) {
            throw journal_error("journal: " + file.string() + " starts at record " + std::to_string(first) +
                                ", expected " + std::to_string(expected) +
                                "; fix: restore the journal directory from the same backup as the database");
        }
        expected = first;
        const std::string bytes = read_file(file);
        size_t offset = 0;
        while (offset < bytes.size()) {
            const auto damaged = [&](const std::string& what) {
                if (last) {
                    // A torn tail has nothing valid after it; a valid record after the
                    // damage means the damage hit a write that was acknowledged.
                    if (const auto later = find_record_after(bytes, offset, expected); later != std::string::npos) {
                        throw journal_error(
                            "journal: " + file.string() + " is damaged at offset " + std::to_string(offset) + " (" +
                            what + ") and a valid record follows at offset " + std::to_string(later) +
                            ": acknowledged writes may be lost. fix: restore the journal directory from the same "
                            "backup as the database; or, to start without the records from the damage on (only "
                            "if this follows a power loss mid-write), truncate -s " + std::to_string(offset) + " " +
                            file.string());
                    }
                    log_warning("journal: ignoring " + std::to_string(bytes.size() - offset) + " bytes at the end of " +
                                file.string() + " (" + what + "): a write cut short, never acknowledged");
                    return;
                }
                throw journal_error("journal: " + file.string() + " is damaged at offset " + std::to_string(offset) +
                                    " (" + what + "); later segments hold acknowledged writes. fix: restore " +
                                    "the journal directory from the same backup as the database");
            };
            if (bytes.size() - offset < header_bytes) {
                damaged("a record header cut short");
                break;
            }
            uint32_t length, sum;
            uint64_t position;
            std::memcpy(&length, bytes.data() + offset, 4);
            std::memcpy(&sum, bytes.data() + offset + 4, 4);
            std::memcpy(&position, bytes.data() + offset + 8, 8);
            if (length == 0 && sum == 0 && position == 0) break;  // the reserved, unwritten rest
            if (length > bytes.size() - offset - header_bytes) {
                damaged("a record cut short");
                break;
            }
            const std::string_view payload(bytes.data() + offset + header_bytes, length);
            if (checksum(position, payload) != sum) {
                damaged("a wrong checksum");
                break;
            }
            if (position != expected) {
                damaged("record " + std::to_string(position) + " where " + std::to_string(expected) + " belongs");
                break;
            }
            if (position > after) each(position, payload);
            ++expected;
            offset += header_bytes + length;
        }
    }
    return expected == 0 ? after : std::max(after, expected - 1);
}

void journal::start(uint64_t next) {
    next_ = pending_first_ = next;
    open_segment(next);
}

void journal::open_segment(uint64_t first) {
    const auto file = dir_ / segment_name(first);
    // The segment's full size from the start: an append then never changes the file's
    // size, and its fdatasync has no size to write, so it is quicker and cheaper
    // (docs/performance.md). Zeros written ahead by prepare_spare() are best;
    // without them, the space is reserved here. Either way the unused rest reads as zeros,
    // which replay takes as the end of the records.
    bool spare = false;
    {
        std::lock_guard lock(spare_mutex_);
        if (spare_ready_) {
            spare_ready_ = false;
            spare = ::rename((dir_ / spare_name).c_str(), file.c_str()) == 0;
            if (!spare) log_warning("journal: cannot use the spare segment: " + errno_text());
        }
    }
    const int fd = ::open(file.c_str(), spare ? O_WRONLY | O_CLOEXEC : O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw journal_error("journal: cannot create " + file.string() + ": " + errno_text());
    // The new name must survive a crash as much as the records written into it.
    try {
        if (const int err = spare ? 0 : ::posix_fallocate(fd, 0, static_cast<off_t>(segment_bytes_)); err != 0) {
            throw journal_error("journal: cannot reserve " + std::to_string(segment_bytes_) + " bytes for " +
                                file.string() + ": " + std::strerror(err));
        }
        sync_dir(dir_);
    } catch (...) {
        ::close(fd);
        if (!spare) ::unlink(file.c_str());  // what fallocate reserved before it failed goes back
        throw;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    size_ = 0;
    std::lock_guard lock(segments_mutex_);
    segments_[first] = file;
}

uint64_t journal::add(std::string_view payload) {
    const uint64_t position = next_++;
    const uint32_t length = static_cast<uint32_t>(payload.size());
    const uint32_t sum = checksum(position, payload);
    char header[header_bytes];
    std::memcpy(header, &length, 4);
    std::memcpy(header + 4, &sum, 4);
    std::memcpy(header + 8, &position, 8);
    pending_.append(header, header_bytes);
    pending_.append(payload.data(), payload.size());
    return position;
}

void journal::commit() {
    if (pending_.empty()) return;
    const auto fail = [&](const std::string& why) {
        next_ = pending_first_;
        pending_.clear();
        throw journal_error(why);
    };
    if (broken_) fail("journal: an earlier append could not be undone; restart ticketd");
    if (fd_ < 0) fail("journal: not started");
    if (size_ + pending_.size() > segment_bytes_ && size_ > 0) {
        try {
            open_segment(pending_first_);
        } catch (const std::exception& e) {
            fail(e.what());
        }
    }
    size_t written = 0;
    while (written < pending_.size()) {
        const ssize_t n = ::pwrite(fd_, pending_.data() + written, pending_.size() - written,
                                   static_cast<off_t>(size_ + written));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        written += static_cast<size_t>(n);
    }
    if (written < pending_.size() || ::fdatasync(fd_) != 0) {
        const auto why = errno_text();
        // Cut the segment back so that the next append does not follow half a record.
        // A failed fdatasync leaves the page cache's state unknown: no append after it.
        if (written == pending_.size() || ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) broken_ = true;
        fail("journal: cannot write: " + why);
    }
    size_ += pending_.size();
    pending_.clear();
    pending_first_ = next_;
}

void journal::release(uint64_t applied) {
    std::lock_guard lock(segments_mutex_);
    while (segments_.size() > 1) {
        const auto second = std::next(segments_.begin());
        if (second->first > applied + 1) break;  // the first segment holds records not yet applied
        std::error_code ec;
        std::filesystem::remove(segments_.begin()->second, ec);
        if (ec) {
            log_warning("journal: cannot delete " + segments_.begin()->second.string() + ": " + ec.message());
            break;
        }
        segments_.erase(segments_.begin());
    }
}

void journal::prepare_spare() {
    {
        std::lock_guard lock(spare_mutex_);
        if (spare_ready_) return;
    }
    if (const auto free = free_bytes(dir_); free && *free < 2 * segment_bytes_) {
        throw journal_error("journal: no spare segment: " + std::to_string(*free) + " bytes free in " + dir_.string());
    }
    const auto file = dir_ / spare_name;
    std::string error;
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        error = "cannot create " + file.string() + ": " + errno_text();
    } else {
        static const std::string zeros(1 << 20, '\0');
        uint64_t written = 0;
        while (written < segment_bytes_ && error.empty()) {
            const size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), segment_bytes_ - written));
            const ssize_t w = ::pwrite(fd, zeros.data(), n, static_cast<off_t>(written));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) error = "cannot write " + file.string() + ": " + errno_text();
            else written += static_cast<uint64_t>(w);
        }
        // On disk before use: otherwise the first append's fdatasync would write them.
        if (error.empty() && ::fdatasync(fd) != 0) error = "cannot sync " + file.string() + ": " + errno_text();
        ::close(fd);
    }
    if (!error.empty()) {
        ::unlink(file.c_str());
        throw journal_error("journal: " + error);
    }
    std::lock_guard lock(spare_mutex_);
    spare_ready_ = true;
}

std::string journal::trouble() const {
    if (broken_) return "the journal takes no more writes after a failed fdatasync or an append it could not undo; restart ticketd";
    {
        std::lock_guard lock(spare_mutex_);
        if (spare_ready_) return {};
    }
    if (const auto free = free_bytes(dir_); free && *free < segment_bytes_) {
        return "less than one journal segment (" + std::to_string(segment_bytes_) + " bytes) is free in " +
               dir_.string();
    }
    return {};
}

uint64_t journal::segment_count() const {
    std::lock_guard lock(segments_mutex_);
    return segments_.size();
}

}  // namespace ticketd
