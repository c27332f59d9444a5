// Uploads (uploads/) against a store in memory: a body streamed to a durable, read-only
// file with its SHA-256; pins that keep an upload while a job needs it; purging.
#include "uploads/upload_store.hpp"

#include "support/fake_job_store.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <future>

using namespace ticketd;
using namespace ticketd::test;
using namespace std::chrono_literals;

namespace {

struct uploads_test : ::testing::Test {
    temp_dir dir{"ticketd-uploads"};
    fake_job_store store;
    upload_store uploads{dir.path / "uploads", store, std::chrono::hours(1)};

    void TearDown() override { store.stop(); }

    upload_record upload(const std::string& bytes, const std::string& principal = "team-a") {
        auto sink = uploads.begin();
        EXPECT_TRUE(sink->write(bytes.data(), bytes.size()));
        std::promise<std::optional<upload_record>> done;
        uploads.commit(sink, principal, "text/plain",
                       [&](std::optional<upload_record> u, const std::string&) { done.set_value(std::move(u)); });
        auto f = done.get_future();
        if (f.wait_for(5s) != std::future_status::ready) throw std::runtime_error("no commit");
        auto u = f.get();
        if (!u) throw std::runtime_error("the upload failed");
        return *u;
    }
    upload_store::remove_status remove(const std::string& id, const std::string& principal = "team-a") {
        std::promise<upload_store::remove_status> done;
        uploads.remove(id, caller{principal}, [&](upload_store::remove_status s) { done.set_value(s); });
        return done.get_future().get();
    }
};

}  // namespace

TEST_F(uploads_test, a_body_becomes_a_read_only_file_with_its_hash) {
    const auto u = upload("hello");
    EXPECT_EQ(u.size, 5u);
    EXPECT_EQ(u.sha256, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    const auto path = uploads.paths({{"in", u.id}}).at("in");
    std::ifstream in(path);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "hello");
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0440u);
    EXPECT_TRUE(uploads.find(u.id, caller{"team-a"}));
    EXPECT_FALSE(uploads.find(u.id, caller{"team-b"})) << "another principal's upload does not exist for it";
}

TEST_F(uploads_test, a_pin_is_all_or_nothing_and_keeps_the_upload_while_a_job_needs_it) {
    const auto a = upload("a"), b = upload("b");
    const auto problems = uploads.pin("job-1", "team-a", {{"x", a.id}, {"y", "00000000000000000000000000000000"}}, 1);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].first, "y");
    EXPECT_EQ(remove(a.id), upload_store::remove_status::removed) << "the failed pin pinned nothing";

    EXPECT_TRUE(uploads.pin("job-2", "team-a", {{"y", b.id}}, 1).empty());
    EXPECT_EQ(remove(b.id), upload_store::remove_status::in_use);
    uploads.release("job-2", {{"y", b.id}});
    EXPECT_EQ(remove(b.id), upload_store::remove_status::removed);
    EXPECT_EQ(remove(b.id), upload_store::remove_status::not_found);
}

TEST_F(uploads_test, another_principals_upload_cannot_be_pinned_or_removed) {
    const auto u = upload("secret", "team-b");
    EXPECT_EQ(uploads.pin("job-1", "team-a", {{"x", u.id}}, 1).size(), 1u);
    EXPECT_EQ(remove(u.id, "team-a"), upload_store::remove_status::not_found);
}

TEST_F(uploads_test, purging_removes_only_what_expired_and_nothing_pins) {
    const auto loose = upload("loose"), pinned = upload("pinned");
    ASSERT_TRUE(uploads.pin("job-1", "team-a", {{"p", pinned.id}}, 1).empty());
    uploads.purge(loose.expires_at - 1);
    EXPECT_TRUE(uploads.find(loose.id, caller{"team-a"})) << "not expired yet";
    uploads.purge(std::max(loose.expires_at, pinned.expires_at));
    EXPECT_FALSE(uploads.find(loose.id, caller{"team-a"}));
    EXPECT_TRUE(uploads.find(pinned.id, caller{"team-a"})) << "a pinned upload outlives its expiry";
    uploads.release("job-1", {{"p", pinned.id}});
    uploads.purge(pinned.expires_at);
    EXPECT_FALSE(uploads.find(pinned.id, caller{"team-a"}));
}
