#include "horao/api/router.hpp"

#include <chrono>
#include <memory>

#include <nlohmann/json.hpp>

#include "horao/api/errors.hpp"

namespace horao::api {
namespace {

using nlohmann::json;

response json_response(int status, const json& body) {
  response r;
  r.status = status;
  r.body = body.dump();
  return r;
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

}  // namespace

router::router(router_context context) : ctx_(std::move(context)) {
  ctx_.metrics.describe("horao_http_requests_total", app::metric_type::counter,
                        "HTTP requests answered, by route template, method and status");
  ctx_.metrics.describe("horao_http_request_duration_seconds", app::metric_type::histogram,
                        "Time from request parsed to response ready, by route template");
}

void router::handle(const request& req, responder respond) {
  const auto started = std::chrono::steady_clock::now();
  const std::string_view path = path_of(req.target);
  std::string route = "unknown";
  auto finish = [&, started](response r, std::string_view route_name) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const std::string status = std::to_string(r.status);
    ctx_.metrics.counter_add("horao_http_requests_total",
                             {{"route", route_name}, {"method", req.method}, {"status", status}});
    ctx_.metrics.histogram_observe("horao_http_request_duration_seconds", {{"route", route_name}}, seconds);
    respond(std::move(r));
  };

  if (path == "/healthz") return finish(json_response(200, {{"status", "ok"}}), "/healthz");
  if (path == "/readyz") {
    std::string reason;
    if (!ctx_.loaded(&reason)) return finish(json_response(503, {{"status", "loading"}, {"reason", reason}}), "/readyz");
    if (!ctx_.durability.accepting_writes(&reason))
      return finish(json_response(503, {{"status", "unavailable"}, {"reason", reason}}), "/readyz");
    return finish(json_response(200, {{"status", "ready"}}), "/readyz");
  }
  if (path == "/metrics") {
    response r;
    r.body = ctx_.metrics.render();
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return finish(std::move(r), "/metrics");
  }
  finish(error_response(404, "unknown_collection", "no route for " + std::string(path)), route);
}

}  // namespace horao::api
