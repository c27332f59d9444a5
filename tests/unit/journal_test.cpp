// The store's journal: records come back as written, a torn tail is a write never
// acknowledged, damage elsewhere and missing records refuse to replay, applied segments go.
#include "store/job_write.hpp"
#include "store/journal.hpp"

#include "support/records.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <boost/crc.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace ticketd;
using ticketd::test::temp_dir;
using namespace ticketd::test;
namespace fs = std::filesystem;

namespace {


std::vector<std::pair<uint64_t, std::string>> replay_all(const fs::path& dir, uint64_t after = 0,
                                                         uint64_t* last = nullptr) {
    journal j(dir);
    std::vector<std::pair<uint64_t, std::string>> out;
    const auto l = j.replay(after, [&](uint64_t p, std::string_view payload) { out.emplace_back(p, payload); });
    if (last) *last = l;
    return out;
}

std::vector<fs::path> segments(const fs::path& dir) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

// Writes `payloads` in commits of `per_commit`, into segments of `segment_bytes`.
void write_records(const fs::path& dir, const std::vector<std::string>& payloads, size_t per_commit,
                   uint64_t segment_bytes = journal::default_segment_bytes) {
    journal j(dir, segment_bytes);
    j.start(j.replay(0, [](uint64_t, std::string_view) {}) + 1);
    for (size_t i = 0; i < payloads.size(); ++i) {
        j.add(payloads[i]);
        if ((i + 1) % per_commit == 0) j.commit();
    }
    j.commit();
}

// 40 records of 116 bytes in segments of 1 KiB: several segments, all full.
std::vector<fs::path> forty_records_in_small_segments(const fs::path& dir) {
    write_records(dir, std::vector<std::string>(40, std::string(100, 'x')), 1, 1024);
    auto files = segments(dir);
    if (files.size() <= 2) throw std::runtime_error("expected more than two segments");
    return files;
}

}  // namespace

TEST(job_write, every_field_survives_the_round_trip) {
    job_write w;
    w.what = job_write::kind::insert;
    w.job = full_record();
    w.key = idempotency_binding{"team-a", "k-1", w.job.id, std::string(64, 'f'), false, 1790000009999};
    w.result = std::string("a,b\n1,2\n\0binary", 15);
    std::string bytes;
    encode(w, bytes);
    const auto back = decode_job_write(bytes);
    ASSERT_EQ(back.what, job_write::kind::insert);
    const auto& a = w.job;
    const auto& b = back.job;
    EXPECT_EQ(b.id, a.id);
    EXPECT_EQ(b.type, a.type);
    EXPECT_EQ(b.principal, a.principal);
    EXPECT_EQ(b.idempotency_key, a.idempotency_key);
    EXPECT_EQ(b.status, a.status);
    EXPECT_EQ(b.cancel_requested, a.cancel_requested);
    EXPECT_EQ(b.attempt, a.attempt);
    EXPECT_EQ(b.first_attempt, a.first_attempt);
    EXPECT_EQ(b.priority, a.priority);
    EXPECT_EQ(b.timeout_ms, a.timeout_ms);
    EXPECT_EQ(b.created_at, a.created_at);
    EXPECT_EQ(b.started_at, a.started_at);
    EXPECT_EQ(b.updated_at, a.updated_at);
    EXPECT_EQ(b.finished_at, a.finished_at);
    EXPECT_EQ(b.expires_at, a.expires_at);
    EXPECT_EQ(b.not_before, a.not_before);
    EXPECT_EQ(b.progress_percent, a.progress_percent);
    EXPECT_EQ(b.progress_message, a.progress_message);
    EXPECT_EQ(b.input, a.input);
    EXPECT_EQ(b.labels, a.labels);
    EXPECT_EQ(b.files, a.files);
    EXPECT_EQ(b.result_name, a.result_name);
    ASSERT_NE(b.error, nullptr);
    EXPECT_EQ(b.error->code, a.error->code);
    EXPECT_EQ(b.error->title, a.error->title);
    EXPECT_EQ(b.error->detail, a.error->detail);
    EXPECT_EQ(b.result_type, a.result_type);
    EXPECT_EQ(b.result_size, a.result_size);
    EXPECT_EQ(b.result_inline, a.result_inline);
    EXPECT_EQ(b.version, a.version);
    EXPECT_EQ(b.seq, a.seq);
    ASSERT_TRUE(b.past_attempts);
    ASSERT_EQ(b.past_attempts->size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
        const auto &x = (*a.past_attempts)[i], &y = (*b.past_attempts)[i];
        EXPECT_EQ(y.number, x.number);
        EXPECT_EQ(y.started_at, x.started_at);
        EXPECT_EQ(y.finished_at, x.finished_at);
        EXPECT_EQ(y.outcome, x.outcome);
        EXPECT_EQ(y.error == nullptr, x.error == nullptr);
    }
    EXPECT_EQ(b.past_attempts->front().error->detail, "no database");
    ASSERT_TRUE(back.key.has_value());
    EXPECT_EQ(back.key->principal, "team-a");
    EXPECT_EQ(back.key->key, "k-1");
    EXPECT_EQ(back.key->job_id, a.id);
    EXPECT_EQ(back.key->fingerprint, std::string(64, 'f'));
    EXPECT_EQ(back.key->expires_at, 1790000009999);
    EXPECT_EQ(back.result, w.result);

    // The smallest record: no key, no result, no error, no progress, no files.
    job_write bare;
    bare.job.id = "ffffffffffffffffffffffffffffffff";
    bytes.clear();
    encode(bare, bytes);
    const auto bare_back = decode_job_write(bytes);
    EXPECT_EQ(bare_back.what, job_write::kind::update);
    EXPECT_FALSE(bare_back.key || bare_back.result || bare_back.job.error || bare_back.job.progress_percent);
    EXPECT_TRUE(bare_back.job.files.empty());

    job_write removal;
    removal.what = job_write::kind::remove;
    removal.removal = tombstone{"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "import", 1790000000000, 1790086400000};
    bytes.clear();
    encode(removal, bytes);
    const auto removal_back = decode_job_write(bytes);
    EXPECT_EQ(removal_back.what, job_write::kind::remove);
    EXPECT_EQ(removal_back.job_id(), "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
    EXPECT_EQ(removal_back.removal.type, "import");
    EXPECT_EQ(removal_back.removal.expires_at, 1790086400000);
    EXPECT_EQ(removal_back.removal.principal, "anonymous");

    // A removal names whose job it was; one written before it did (no principal at its
    // end) belongs to anonymous.
    removal.removal.principal = "billing";
    bytes.clear();
    encode(removal, bytes);
    EXPECT_EQ(decode_job_write(bytes).removal.principal, "billing");
    bytes.resize(bytes.size() - sizeof(uint32_t) - std::string("billing").size());
    EXPECT_EQ(decode_job_write(bytes).removal.principal, "anonymous");
}

// A journal left by a crash of the version before (format 1: no past attempts) is read.
TEST(job_write, a_format_1_record_is_still_read) {
    job_write w;
    w.job = full_record();
    w.job.past_attempts = nullptr;
    std::string bytes;
    encode(w, bytes);
    // Format 2 ends a job with its run's first attempt (2 here) and its count of past
    // attempts (0), then come the key and result flags.
    const size_t added_at = bytes.size() - 2 - 2 * sizeof(uint32_t);
    ASSERT_EQ(bytes.substr(added_at, 8), std::string("\x02\0\0\0\0\0\0\0", 8));
    std::string v1 = bytes.substr(0, added_at) + bytes.substr(added_at + 8);
    v1[0] = 1;
    const auto back = decode_job_write(v1);
    EXPECT_EQ(back.job.id, w.job.id);
    EXPECT_EQ(back.job.version, w.job.version);
    EXPECT_EQ(back.job.past_attempts, nullptr);
    EXPECT_EQ(back.job.first_attempt, 1u);
}

TEST(job_write, decoding_refuses_what_it_did_not_write) {
    job_write w;
    w.job = full_record();
    std::string bytes;
    encode(w, bytes);
    EXPECT_THROW(decode_job_write(bytes.substr(0, bytes.size() - 1)), std::runtime_error);  // cut short
    EXPECT_THROW(decode_job_write(bytes + "x"), std::runtime_error);                         // trailing bytes
    std::string other_version = bytes;
    other_version[0] = 3;
    EXPECT_THROW(decode_job_write(other_version), std::runtime_error);
    other_version[0] = 0;
    EXPECT_THROW(decode_job_write(other_version), std::runtime_error);
    std::string bad_kind = bytes;
    bad_kind[1] = 9;
    EXPECT_THROW(decode_job_write(bad_kind), std::runtime_error);
    EXPECT_THROW(decode_job_write(""), std::runtime_error);
}

// Found by fuzzing (tests/fuzz/journal_fuzzer.cpp): a job's files that are not a JSON
// object threw nlohmann's parse_error, not the runtime_error recovery names.
TEST(job_write, files_that_are_not_a_json_object_are_refused_by_name) {
    job_write w;
    w.job = full_record();
    w.job.files = {{"source", "u1"}};
    std::string bytes;
    encode(w, bytes);
    const auto at = bytes.find("{\"source\"");
    ASSERT_NE(at, std::string::npos);
    // Same length: not JSON, then JSON that is not an object.
    for (std::string_view replacement : {R"(x"source":"u1"})", R"(["source","u1"])"}) {
        std::string damaged = bytes;
        damaged.replace(at, replacement.size(), replacement);
        try {
            (void)decode_job_write(damaged);
            FAIL() << "decoded files that are not a JSON object";
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find("files"), std::string::npos) << e.what();
        }
    }
}

// In a group made durable together, a job's `running` followed by its finish needs only
// the finish; a write with a result, other kinds of writes and non-job writes are kept
// (and the last two are barriers).
TEST(job_write, a_state_written_again_in_the_same_group_is_superseded) {
    const auto state = [](const std::string& id, job_status status) {
        job_write w;
        w.what = job_write::kind::update;
        w.job.id = id;
        w.job.status = status;
        return w;
    };
    const job_write a_running = state("a", job_status::running), a_done = state("a", job_status::succeeded),
                    b_running = state("b", job_status::running), b_done = state("b", job_status::queued),
                    c_running = state("c", job_status::running), c_done = state("c", job_status::succeeded);
    job_write a_with_result = state("a", job_status::running);
    a_with_result.result = "kept";
    job_write b_removed;
    b_removed.what = job_write::kind::remove;
    b_removed.removal.job_id = "b";
    const std::vector<const job_write*> group{&a_running, &a_with_result, nullptr, &b_running, &b_removed,
                                              &b_done,    &c_running,     &c_done, &a_done};
    EXPECT_EQ(superseded_writes(group),
              (std::vector<bool>{true, false, false, false, false, false, true, false, false}));
}

TEST(journal, records_come_back_in_order_across_commits_and_segments) {
    temp_dir t("ticketd-journal");
    std::vector<std::string> payloads;
    for (int i = 0; i < 300; ++i) payloads.push_back("record " + std::to_string(i) + std::string(i % 50, '.'));
    write_records(t.path, payloads, 7, 4096);  // small segments: many rotations
    EXPECT_GT(segments(t.path).size(), 3u);
    uint64_t last = 0;
    const auto back = replay_all(t.path, 0, &last);
    ASSERT_EQ(back.size(), payloads.size());
    for (size_t i = 0; i < back.size(); ++i) {
        EXPECT_EQ(back[i].first, i + 1);
        EXPECT_EQ(back[i].second, payloads[i]);
    }
    EXPECT_EQ(last, 300u);
    // Only what follows the applied position is handed over.
    const auto tail = replay_all(t.path, 290);
    ASSERT_EQ(tail.size(), 10u);
    EXPECT_EQ(tail.front().first, 291u);
    EXPECT_EQ(tail.front().second, payloads[290]);
}

TEST(journal, appends_after_a_restart_continue_the_positions) {
    temp_dir t("ticketd-journal");
    write_records(t.path, {"a", "b"}, 1);
    {
        journal j(t.path);
        const auto last = j.replay(2, [](uint64_t, std::string_view) { FAIL() << "all applied"; });
        EXPECT_EQ(last, 2u);
        j.start(last + 1);
        EXPECT_EQ(j.add("c"), 3u);
        j.commit();
        j.release(2);
        EXPECT_EQ(j.segment_count(), 1u);  // the first segment held only applied records
    }
    const auto back = replay_all(t.path, 2);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0], (std::pair<uint64_t, std::string>{3, "c"}));
}

// The record format is fixed: length, CRC-32 (ISO-HDLC) of position and payload,
// position, payload. A segment framed here by another implementation of that CRC
// (Boost.CRC, which wrote the journals of earlier versions) replays.
TEST(journal, records_framed_with_the_standard_crc_32_replay) {
    temp_dir t("ticketd-journal");
    std::string bytes;
    uint64_t position = 1;
    for (const std::string payload : {"first", "second record"}) {
        boost::crc_32_type crc;
        crc.process_bytes(&position, sizeof position);
        crc.process_bytes(payload.data(), payload.size());
        const uint32_t length = static_cast<uint32_t>(payload.size()), sum = crc.checksum();
        bytes.append(reinterpret_cast<const char*>(&length), 4);
        bytes.append(reinterpret_cast<const char*>(&sum), 4);
        bytes.append(reinterpret_cast<const char*>(&position), 8);
        bytes += payload;
        ++position;
    }
    bytes.resize(4096, '\0');
    std::ofstream(t.path / "00000000000000000001.journal", std::ios::binary) << bytes;
    const auto records = replay_all(t.path);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0], (std::pair<uint64_t, std::string>{1, "first"}));
    EXPECT_EQ(records[1], (std::pair<uint64_t, std::string>{2, "second record"}));
}

TEST(journal, a_torn_tail_is_a_write_never_acknowledged) {
    temp_dir t("ticketd-journal");
    write_records(t.path, {"first", "second", "third"}, 1);
    const auto file = segments(t.path).back();
    // Half of a fourth record's header and payload after the third (as a crash mid-append leaves it).
    const off_t end = 3 * 16 + 5 + 6 + 5;
    const int fd = ::open(file.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    const char partial[] = {10, 0, 0, 0, 1, 2, 3, 4, 4, 0, 0, 0, 0, 0, 0, 0, 'f', 'o'};
    ASSERT_EQ(::pwrite(fd, partial, sizeof partial, end), static_cast<ssize_t>(sizeof partial));
    ::close(fd);
    const auto back = replay_all(t.path);
    ASSERT_EQ(back.size(), 3u);
    EXPECT_EQ(back[2].second, "third");
}

// Damage in the last segment with valid records after it is not a torn tail: those
// records were written after the damaged one was acknowledged. Replay names the segment
// and the offset instead of dropping them.
TEST(journal, damage_followed_by_valid_records_in_the_last_segment_refuses_to_replay) {
    temp_dir t("ticketd-journal");
    write_records(t.path, {"first", "second", "third", "fourth", "fifth"}, 1);
    const auto file = segments(t.path).back();
    const off_t second_payload = 16 + 5 + 16;
    {
        std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(second_payload + 2);
        f.put('X');
    }
    try {
        replay_all(t.path);
        FAIL() << "dropped the records after the damage";
    } catch (const journal_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find(file.string()), std::string::npos) << what;
        EXPECT_NE(what.find("offset " + std::to_string(16 + 5)), std::string::npos) << what;  // the second record
        EXPECT_NE(what.find("follows at offset " + std::to_string(16 + 5 + 16 + 6)), std::string::npos) << what;
        EXPECT_NE(what.find("fix:"), std::string::npos) << what;
    }
    // The same damage on the last record is a torn tail: the four before it replay.
    temp_dir u("ticketd-journal");
    write_records(u.path, {"first", "second", "third", "fourth", "fifth"}, 1);
    {
        std::fstream f(segments(u.path).back(), std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(4 * 16 + 5 + 6 + 5 + 6 + 16 + 2);  // inside "fifth"
        f.put('X');
    }
    EXPECT_EQ(replay_all(u.path).size(), 4u);
}

TEST(journal, damage_before_later_segments_refuses_to_replay) {
    temp_dir t("ticketd-journal");
    const auto files = forty_records_in_small_segments(t.path);
    {
        std::fstream f(files[1], std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(16 + 50);  // inside the first record's payload
        f.put('y');
    }
    try {
        replay_all(t.path);
        FAIL() << "replayed a damaged journal";
    } catch (const journal_error& e) {
        EXPECT_NE(std::string(e.what()).find(files[1].string()), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("fix:"), std::string::npos) << e.what();
    }
}

TEST(journal, missing_records_refuse_to_replay) {
    temp_dir t("ticketd-journal");
    const auto files = forty_records_in_small_segments(t.path);
    fs::remove(files[0]);
    EXPECT_THROW(replay_all(t.path, 0), journal_error);  // records 1.. are gone
    fs::remove(files[2]);
    EXPECT_THROW(replay_all(t.path, 1000), journal_error);  // a gap between segments
}

TEST(journal, release_deletes_only_segments_wholly_applied) {
    temp_dir t("ticketd-journal");
    journal j(t.path, 1024);
    j.start(j.replay(0, [](uint64_t, std::string_view) {}) + 1);
    for (int i = 0; i < 40; ++i) {
        j.add(std::string(100, 'x'));
        j.commit();
    }
    const auto before = j.segment_count();
    ASSERT_GT(before, 3u);
    j.release(0);
    EXPECT_EQ(j.segment_count(), before);
    j.release(40);  // everything applied: only the segment being appended to stays
    EXPECT_EQ(j.segment_count(), 1u);
    EXPECT_EQ(segments(t.path).size(), 1u);
}

TEST(journal, a_foreign_file_in_the_directory_is_named) {
    temp_dir t("ticketd-journal");
    std::ofstream(t.path / "notes.journal") << "hello";
    try {
        journal j(t.path);
        FAIL() << "accepted a foreign file";
    } catch (const journal_error& e) {
        EXPECT_NE(std::string(e.what()).find("notes.journal"), std::string::npos) << e.what();
    }
}

// Found by fuzzing: twenty digits can name a number past 2^64 (std::stoull threw).
TEST(journal, a_segment_name_past_two_to_the_64_is_named) {
    temp_dir t("ticketd-journal");
    std::ofstream(t.path / "99999999999999999999.journal") << "";
    try {
        journal j(t.path);
        FAIL() << "accepted a segment name past 2^64";
    } catch (const journal_error& e) {
        EXPECT_NE(std::string(e.what()).find("99999999999999999999.journal"), std::string::npos) << e.what();
    }
}

// An append that cannot be made counts for nothing: its positions are given again, and
// what was acknowledged before and after it replays without a gap.
TEST(journal, a_failed_append_leaves_no_trace) {
    temp_dir t("ticketd-journal");
    {
        journal j(t.path, 1024);
        j.start(j.replay(0, [](uint64_t, std::string_view) {}) + 1);
        for (int i = 0; i < 9; ++i) j.add(std::string(100, 'a'));  // 9 x 116 bytes: the first segment is full
        j.commit();
        // The next segment cannot be created (a directory holds its name).
        const auto blocked = t.path / "00000000000000000010.journal";
        fs::create_directory(blocked);
        EXPECT_EQ(j.add("lost"), 10u);
        EXPECT_THROW(j.commit(), journal_error);
        fs::remove(blocked);
        EXPECT_EQ(j.add("kept"), 10u);  // the failed record's position again
        j.commit();
    }
    const auto back = replay_all(t.path);
    ASSERT_EQ(back.size(), 10u);
    EXPECT_EQ(back.back(), (std::pair<uint64_t, std::string>{10, "kept"}));
}

// The next segment's zeros are written ahead (by the store's applier): the spare is the
// next segment (the same file), and one that a crash left half written is not used.
TEST(journal, a_prepared_spare_becomes_the_next_segment) {
    temp_dir t("ticketd-journal");
    const auto inode = [](const fs::path& p) {
        struct stat st {};
        return ::stat(p.c_str(), &st) == 0 ? st.st_ino : ino_t{0};
    };
    {
        journal j(t.path, 1024);
        j.start(j.replay(0, [](uint64_t, std::string_view) {}) + 1);
        j.prepare_spare();
        ASSERT_EQ(fs::file_size(t.path / "spare"), 1024u);
        const auto spare = inode(t.path / "spare");
        j.prepare_spare();  // one is ready: nothing to do
        EXPECT_EQ(inode(t.path / "spare"), spare);
        for (int i = 0; i < 9; ++i) j.add(std::string(100, 'a'));  // 9 x 116 bytes: the first segment is full
        j.commit();
        EXPECT_EQ(j.add("next"), 10u);
        j.commit();
        EXPECT_FALSE(fs::exists(t.path / "spare"));
        EXPECT_EQ(inode(t.path / "00000000000000000010.journal"), spare);
        EXPECT_EQ(fs::file_size(t.path / "00000000000000000010.journal"), 1024u);
    }
    std::ofstream(t.path / "spare") << "half written";
    const auto back = replay_all(t.path);
    ASSERT_EQ(back.size(), 10u);
    EXPECT_EQ(back.back(), (std::pair<uint64_t, std::string>{10, "next"}));
    EXPECT_FALSE(fs::exists(t.path / "spare"));
}
