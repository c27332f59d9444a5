// The HTTP API of protocol.md: routes requests to the job engine and renders documents,
// problems and the protocol's headers. Runs on io threads and never blocks: the engine
// answers through callbacks.
#pragma once

#include "config/config.hpp"
#include "http/http_message.hpp"
#include "jobs/job_service.hpp"
#include "uploads/upload_store.hpp"
#include "metrics/daemon_metrics.hpp"

#include <atomic>
#include <string>

namespace ticketd {

class jobs_api final : public request_handler {
   public:
    jobs_api(const daemon_config& config, job_service& engine, upload_store& uploads, daemon_metrics& metrics);

    // The absolute URL prefix for every URL the API emits (no trailing slash).
    void set_base_url(std::string base_url) { base_url_ = std::move(base_url); }
    // Readiness: false while starting and while draining.
    void set_ready(bool ready) { ready_ = ready; }

    void handle(http_request request, respond_fn respond) override;
    body_plan plan_body(const http_request& head) override;
    http_response protocol_error(unsigned status, std::string_view code, std::string_view detail,
                                 const std::string& request_id) override;

   private:
    struct call;  // one request being answered

    void submit(std::shared_ptr<call> c);
    void get_job(std::shared_ptr<call> c, const std::string& id);
    void get_result(std::shared_ptr<call> c, const std::string& id);
    void cancel_job(std::shared_ptr<call> c, const std::string& id);
    void delete_job(std::shared_ptr<call> c, const std::string& id);
    void list_jobs(std::shared_ptr<call> c);
    void list_job_types(std::shared_ptr<call> c);
    void create_upload(std::shared_ptr<call> c);
    void get_upload(std::shared_ptr<call> c, const std::string& id);
    void delete_upload(std::shared_ptr<call> c, const std::string& id);

    http_response job_response(unsigned status, const job_record& job) const;
    void release_if_client_leaves(const call& c, const std::string& job_id, uint64_t waiter_id);

    void route(std::shared_ptr<call> c);

    const daemon_config& config_;
    job_service& engine_;
    upload_store& uploads_;
    daemon_metrics& metrics_;
    std::string base_url_;
    std::atomic<bool> ready_{false};
};

}  // namespace ticketd
