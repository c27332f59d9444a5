// The store's write-ahead journal: an append-only log of records in segment files
// (<dir>/<first position>.journal). A write is durable once its record is appended and
// fdatasync'd, which is one sequential write per group of writes; the B-tree work of
// putting it into SQLite happens later, in large batches (sqlite_store's applier).
//
// Record: u32 payload length, u32 CRC-32 of (position, payload), u64 position, payload.
// Positions are consecutive from 1 across segments. A segment is a file of zeros of its
// full size from the start: what follows the last record reads as zeros (an all-zero
// header ends them). A record cut short or with a wrong
// checksum at the end of the last segment is a write that was never acknowledged (the
// machine stopped mid-append): replay ends there. Anywhere else it is damage, and replay
// refuses to guess (journal_error names the file, the offset and the fix).
//
// Used by one appending thread; release() may be called from another.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ticketd {

class journal_error : public std::runtime_error {
   public:
    using std::runtime_error::runtime_error;
};

class journal {
   public:
    static constexpr uint64_t default_segment_bytes = 16ull << 20;

    explicit journal(std::filesystem::path dir, uint64_t segment_bytes = default_segment_bytes);
    ~journal();
    journal(const journal&) = delete;
    journal& operator=(const journal&) = delete;

    // Startup: hands each intact record with a position > `after` to `each`, in order, and
    // returns the last position in the journal (at least `after`). Throws journal_error
    // when records are damaged or missing.
    uint64_t replay(uint64_t after, const std::function<void(uint64_t position, std::string_view payload)>& each);
    // Startup, after replay: appends go to a new segment from position `next` on.
    void start(uint64_t next);

    // Adds a record to the pending append; returns its position.
    uint64_t add(std::string_view payload);
    // Writes the pending records and fdatasyncs them. On failure nothing of them counts
    // (the file is cut back; if even that fails, every later append fails too) and it throws.
    void commit();

    // Deletes the segments whose records are all at or below `applied`.
    void release(uint64_t applied);
    // Writes the zeros of the next segment ahead of time (<dir>/spare), unless that is
    // done: from one other thread (the store's applier), off the appends' path. An
    // append into written zeros only overwrites data; into space merely reserved
    // (posix_fallocate, the fallback) the file system must also record the extents as
    // written, in each fdatasync, which makes every sync slower and costlier
    // (docs/performance.md, "Measurements behind code choices").
    // Throws journal_error when the file cannot be written, or when less than two segments
    // of space are free (a spare then would only fill the disk; the next segment is
    // reserved instead).
    void prepare_spare();
    uint64_t segment_count() const;

    // Why appends cannot go on now, from any thread (empty: they can): a failed fdatasync
    // (no append until a restart), or no spare and less than a segment of free space.
    std::string trouble() const;

   private:
    void open_segment(uint64_t first);

    std::filesystem::path dir_;
    uint64_t segment_bytes_;
    int fd_ = -1;         // the segment being appended to
    uint64_t size_ = 0;   // its size
    uint64_t next_ = 1;   // the next record's position
    uint64_t pending_first_ = 1;
    std::string pending_;  // framed records not yet written
    std::atomic<bool> broken_{false};
    mutable std::mutex spare_mutex_;
    bool spare_ready_ = false;  // <dir>/spare is zero-filled and synced
    mutable std::mutex segments_mutex_;
    std::map<uint64_t, std::filesystem::path> segments_;  // first position -> file
};

}  // namespace ticketd
