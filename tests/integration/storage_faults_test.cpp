// Storage faults lose nothing: a write the database refuses after it was acknowledged is
// applied again until it goes in (never dropped), and a full disk turns writes away with
// 503 / 507 while readiness is false, then everything resumes by itself when space returns.
#include "support/daemon_test.hpp"
#include "support/sqlite_reader.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <set>

using namespace ticketd::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string ready_body(const daemon_process& d) { return d.get("/readyz").body; }

}  // namespace

class storage_faults : public daemon_test {};

// The database refuses one acknowledged insert for good (a trigger: SQLITE_CONSTRAINT,
// which no retry can get past). The applier must not commit the rest of its group and
// move the journal past it: it stops the daemon naming the write, a start refuses while
// the cause remains, and once it is gone the next start applies it from the journal.
TEST_F(storage_faults, a_write_the_database_refuses_for_good_stops_the_daemon_and_is_applied_later) {
    const auto db_file = (d.dir() / "state" / "ticketd.db").string();
    {
        sqlite_reader db(db_file);
        db.exec("CREATE TRIGGER inject_fault BEFORE INSERT ON jobs WHEN NEW.input LIKE '%poison%' "
                "BEGIN SELECT RAISE(ABORT, 'injected fault'); END;");
    }
    const auto bystander = submit_id("hello", {{"name", "Bystander"}});
    // The daemon stops within the applier's delay of journaling it: its 202 may or may not
    // get out first, so the job is found by its key afterwards.
    try {
        d.submit("hello", {{"name", "poison"}}, {{"Idempotency-Key", "poison"}});
    } catch (const std::exception&) {
    }
    EXPECT_EQ(d.wait_exit(60s), 70);
    const auto log = d.log();
    EXPECT_NE(log.find("fatal"), std::string::npos) << log;
    EXPECT_NE(log.find("the write to job "), std::string::npos) << log;
    EXPECT_NE(log.find("injected fault"), std::string::npos) << log;

    std::string refused;
    EXPECT_NE(d.start_expect_failure(refused), 0);
    refused = refused.substr(std::min(log.size(), refused.size()));  // this start's lines only
    EXPECT_NE(refused.find("the write to job "), std::string::npos) << refused;
    EXPECT_NE(refused.find("injected fault"), std::string::npos) << refused;
    EXPECT_NE(refused.find("fix:"), std::string::npos) << refused;

    sqlite_reader(db_file).exec("DROP TRIGGER inject_fault");
    d.start();
    auto found = d.get("/v1/jobs?idempotencyKey=poison");
    ASSERT_EQ(found.status, 200u) << found.body;
    ASSERT_EQ(found.json()["jobs"].size(), 1u) << found.body;
    const std::string poisoned = found.json()["jobs"][0].value("id", "");
    for (const auto& id : {bystander, poisoned}) {
        EXPECT_EQ(d.wait_terminal(id).value("status", ""), "succeeded") << id;
    }
    sqlite_reader db(db_file);
    EXPECT_EQ(db.rows("SELECT count(*) FROM jobs WHERE id IN ('" + bystander + "', '" + poisoned + "')"),
              std::vector<std::string>{"2"});
}

namespace {

daemon_config_text small_journal() {
    daemon_config_text c;
    c.top = "store:\n  journal_segment_bytes: 128KiB\n";
    return c;
}

// A tmpfs of `size` on `dir` for the test's lifetime (lazily unmounted: the daemon may
// still hold it open when the test ends). `mounted` is false where mounting is not allowed
// (not root, or root in a container without CAP_SYS_ADMIN).
struct small_disk {
    fs::path dir;
    bool mounted = false;
    small_disk(fs::path where, const std::string& size) : dir(std::move(where)) {
        fs::create_directories(dir);
        mounted = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
    }
    ~small_disk() {
        if (mounted) ::umount2(dir.c_str(), MNT_DETACH);
    }
};

// Writes `file` until the filesystem has no room left; returns the bytes written.
uint64_t fill(const fs::path& file) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("open " + file.string());
    uint64_t total = 0;
    const std::string block(1 << 20, 'f');
    for (size_t piece = block.size(); piece >= 512; piece /= 2) {
        for (;;) {
            const ssize_t n = ::write(fd, block.data(), piece);
            if (n <= 0) break;
            total += static_cast<uint64_t>(n);
        }
    }
    ::close(fd);
    return total;
}

}  // namespace

class full_disk : public ::testing::Test {
   protected:
    void SetUp() override {
        disk.emplace(d.dir() / "state", "48m");
        if (!disk->mounted) GTEST_SKIP() << "mounting a small tmpfs needs root with CAP_SYS_ADMIN (CI has it)";
        d.start();
    }
    void TearDown() override {
        if (HasFailure()) std::cerr << "---- ticketd log ----\n" << d.log() << "---------------------\n";
    }
    daemon_process d{small_journal()};
    std::optional<small_disk> disk;
};

TEST_F(full_disk, writes_are_refused_cleanly_and_resume_when_space_returns) {
    const auto before = d.submit("hello", {{"name", "Before"}}).json().value("id", "");
    ASSERT_EQ(d.wait_terminal(before).value("status", ""), "succeeded");
    const auto filler = d.dir() / "state" / "filler";
    ASSERT_GT(fill(filler), 0u);

    // An upload that does not fit: 507, and no partial file left behind.
    auto up = d.upload(std::string(4 << 20, 'u'));
    expect_problem(up, 507, "insufficient-storage");
    for (const auto& e : fs::directory_iterator(d.dir() / "state" / "uploads")) {
        ADD_FAILURE() << "left in uploads/: " << e.path();
    }

    // Submits are taken while the journal's reserved segments have room, then refused
    // with 503 and Retry-After; none of those acknowledged may be lost.
    std::vector<std::string> accepted;
    http_result refused;
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline && accepted.size() < 20000) {
        auto r = d.submit("hello", {{"name", "n" + std::to_string(accepted.size())}});
        if (r.status != 202) {
            refused = r;
            break;
        }
        accepted.push_back(r.json().value("id", ""));
    }
    expect_problem(refused, 503, "unavailable");
    EXPECT_EQ(refused.header("Retry-After").value_or(""), "5");
    EXPECT_EQ(d.get("/readyz").status, 503u);
    EXPECT_EQ(d.get("/healthz").status, 200u);

    // Space returns: readiness comes back by itself, new work is taken and runs.
    fs::remove(filler);
    ASSERT_TRUE(eventually([&] { return d.get("/readyz").status == 200; }, 60s)) << ready_body(d);
    const auto after = d.submit("hello", {{"name", "After"}});
    ASSERT_EQ(after.status, 202u) << after.body;
    EXPECT_EQ(d.wait_terminal(after.json().value("id", "")).value("status", ""), "succeeded");
    EXPECT_EQ(d.upload("fits now").status, 201u);

    // Every acknowledged job survives a crash and ends succeeded (run again if its
    // finish could not be recorded while the disk was full).
    d.kill9();
    d.start();
    std::set<std::string> not_succeeded;
    for (const auto& id : accepted) {
        const auto job = d.wait_terminal(id, 60s);
        if (job.value("status", "") != "succeeded") not_succeeded.insert(id + ": " + job.dump());
    }
    EXPECT_TRUE(not_succeeded.empty()) << accepted.size() << " accepted, " << not_succeeded.size()
                                       << " not succeeded, e.g. " << *not_succeeded.begin();
    EXPECT_GT(accepted.size(), 0u);
}
