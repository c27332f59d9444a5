#include "api/metrics_endpoint.hpp"

#include "api/problem.hpp"
#include "api/routes.hpp"

namespace ticketd {

void metrics_endpoint::handle(http_request request, respond_fn respond) {
    const problem_context ctx{base_url_, request.path, request.request_id};
    if (request.path != "/metrics") {
        return respond(make_problem(ctx, 404, "not-found", "this listener serves only /metrics"));
    }
    if (request.method != "GET" && request.method != "HEAD") {
        auto res = make_problem(ctx, 405, "method-not-allowed", "use GET or HEAD on /metrics");
        res.set("Allow", "GET, HEAD");
        return respond(std::move(res));
    }
    respond(routes::metrics_response(metrics_));
}

http_response metrics_endpoint::protocol_error(unsigned status, std::string_view code, std::string_view detail,
                                               const std::string& request_id) {
    return make_problem({base_url_, "", request_id}, status, code, detail);
}

}  // namespace ticketd
