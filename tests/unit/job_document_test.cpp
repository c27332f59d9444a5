// The job document is written as text directly: it must be valid JSON with every member,
// whatever the strings in the record hold.
#include "api/job_document.hpp"

#include <gtest/gtest.h>

using namespace ticketd;

TEST(job_document, is_valid_json_with_every_member_and_escaped_strings) {
    job_record j;
    j.id = "0123456789abcdef0123456789abcdef";
    j.type = "report";
    j.status = job_status::failed;
    j.attempt = 2;
    j.priority = -5;
    j.created_at = 1'790'000'000'000;
    j.updated_at = 1'790'000'000'500;
    j.finished_at = 1'790'000'000'500;
    j.expires_at = 1'790'604'800'500;
    j.idempotency_key = "key \"quoted\"";
    j.labels = R"({"tenant":"a\\b"})";
    j.files = {{"source", "ffffffffffffffffffffffffffffffff"}};
    j.progress_percent = 42.5;
    j.progress_message = "line one\nline \"two\"\t\x01 end \xE2\x9C\x93";
    j.error = std::make_shared<const job_error>(job_error{"report/query-failed", "Job failed", "no such table: \"sales\""});
    const auto doc = nlohmann::json::parse(job_document(j, "https://jobs.example.com"));
    EXPECT_EQ(doc["id"], j.id);
    EXPECT_EQ(doc["status"], "failed");
    EXPECT_EQ(doc["cancelRequested"], false);
    EXPECT_EQ(doc["attempt"], 2);
    EXPECT_EQ(doc["priority"], -5);
    EXPECT_EQ(doc["createdAt"], format_rfc3339(j.created_at));
    EXPECT_TRUE(doc["startedAt"].is_null());
    EXPECT_EQ(doc["idempotencyKey"], j.idempotency_key);
    EXPECT_EQ(doc["labels"], nlohmann::json::parse(j.labels));
    EXPECT_EQ(doc["files"], nlohmann::json(j.files));
    EXPECT_EQ(doc["progress"]["percent"], 42.5);
    EXPECT_EQ(doc["progress"]["message"], j.progress_message);
    EXPECT_EQ(doc["error"]["type"], "https://jobs.example.com/problems/report/query-failed");
    EXPECT_EQ(doc["error"]["detail"], j.error->detail);
    EXPECT_EQ(doc["links"]["result"], "https://jobs.example.com/v1/jobs/" + j.id + "/result");
    EXPECT_FALSE(doc.contains("resourceLocation"));

    j.status = job_status::succeeded;
    j.idempotency_key.clear();
    const auto ok = nlohmann::json::parse(job_document(j, "http://h"));
    EXPECT_EQ(ok["resourceLocation"], "http://h/v1/jobs/" + j.id + "/result");
    EXPECT_FALSE(ok.contains("error"));
    EXPECT_TRUE(ok["idempotencyKey"].is_null());
}
