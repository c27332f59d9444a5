// The API's route handlers, one family per file (job_routes, result_route, list_routes,
// upload_routes, health_routes); http_api.cpp's table says which answers which path and
// method. `id` is the path's {id} segment, already checked to look like one of ticketd's.
#pragma once

#include "api/api_call.hpp"

#include <string>

namespace ticketd::routes {

// job_routes.cpp
void submit_job(const call_ptr& c, const std::string& id);
void get_job(const call_ptr& c, const std::string& id);
void cancel_job(const call_ptr& c, const std::string& id);
void delete_job(const call_ptr& c, const std::string& id);
void retry_job(const call_ptr& c, const std::string& id);
// bulk_retry_route.cpp
void retry_jobs(const call_ptr& c, const std::string& id);
// result_route.cpp
void get_result(const call_ptr& c, const std::string& id);
// list_routes.cpp
void list_jobs(const call_ptr& c, const std::string& id);
// job_type_routes.cpp
void list_job_types(const call_ptr& c, const std::string& id);
void pause_job_type(const call_ptr& c, const std::string& type);
void resume_job_type(const call_ptr& c, const std::string& type);
// upload_routes.cpp
body_plan plan_upload_body(api_context& api, const http_request& head, const std::string& principal,
                           const principal_limits& limits);
void create_upload(const call_ptr& c, const std::string& id);
void get_upload(const call_ptr& c, const std::string& id);
void delete_upload(const call_ptr& c, const std::string& id);
// health_routes.cpp
void healthz(const call_ptr& c, const std::string& id);
void readyz(const call_ptr& c, const std::string& id);
void metrics(const call_ptr& c, const std::string& id);
http_response metrics_response(const daemon_metrics& metrics);

}  // namespace ticketd::routes
