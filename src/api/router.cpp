#include "horao/api/router.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <tuple>

#include "horao/api/access.hpp"
#include "horao/api/batch.hpp"
#include "horao/api/changes.hpp"
#include "horao/api/cluster.hpp"
#include "horao/api/errors.hpp"
#include "horao/api/exchange.hpp"
#include "horao/api/listing.hpp"
#include "horao/api/operations.hpp"
#include "horao/api/resource_handlers.hpp"
#include "horao/api/routes.hpp"
#include "horao/api/scheduling_handlers.hpp"
#include "horao/api/tree.hpp"
#include "horao/api/watch.hpp"

namespace horao::api {
namespace {

// 403 for what the role may never do on this route, before any record is read.
std::optional<api_error> role_refusal(const principal& who, const route_match& m, unsigned method) {
  const auto forbidden = [](std::string why) { return api_error{403, "forbidden", std::move(why), ""}; };
  switch (m.route->id) {
    case route_id::cluster_sync:
      if (who.role != role::admin) return forbidden("only an admin token may trigger a sync");
      break;
    case route_id::batch:
      if (who.role == role::reader) return forbidden("a reader token may not write");
      break;
    case route_id::collection:
      if (!may_read_kind(who, m.kind->kind))
        return forbidden("this token may not read " + std::string(m.kind->collection));
      break;
    case route_id::resource:
      if (method == m_get ? !may_read_kind(who, m.kind->kind) : !may_write_kind(who, m.kind->kind))
        return forbidden("this token may not " + std::string(method == m_get ? "read " : "write ") +
                         std::string(m.kind->collection));
      break;
    case route_id::tenant_usage:
      // Usage is a tenant's own business, like its reservations.
      if (who.role == role::reader) return forbidden("a reader token may not read tenants' usage");
      if (who.role == role::tenant && m.id != who.tenant)
        return forbidden("this token may read only its own tenant's usage");
      break;
    default:
      // capacity, impact and the impact dry run are reads for every role
      // (a tenant's impact report shows only its own reservations).
      break;
  }
  return std::nullopt;
}

// Parameters a route does not know are refused here; a listing's field
// filters are checked by the listing against the kind's schema.
std::optional<api_error> unknown_parameter(const route_def& route, const query_params& query) {
  if (route.field_filters) return std::nullopt;
  for (const auto& p : query.all()) {
    bool known = false;
    for (auto name : route.query) known = known || name == p.name;
    if (!known) return bad_query(p.name, "unknown parameter");
  }
  return std::nullopt;
}

void dispatch(router_context& ctx, exchange& ex, unsigned method) {
  switch (ex.route.route->id) {
    case route_id::healthz:
      return get_healthz(ctx, ex);
    case route_id::readyz:
      return get_readyz(ctx, ex);
    case route_id::metrics:
      return get_metrics(ctx, ex);
    case route_id::openapi:
      return get_openapi(ctx, ex);
    case route_id::cluster:
      return get_cluster(ctx, ex);
    case route_id::cluster_sync:
      return post_cluster_sync(ctx, ex);
    case route_id::changes:
      return list_changes(ctx, ex);
    case route_id::watch:
      return get_watch(ctx, ex);
    case route_id::batch:
      return post_batch(ctx, ex);
    case route_id::collection:
      return list_collection(ctx, ex);
    case route_id::tree:
      return get_tree(ctx, ex);
    case route_id::capacity:
      return get_capacity(ctx, ex);
    case route_id::tenant_usage:
      return get_tenant_usage(ctx, ex);
    case route_id::maintenance_impact:
      return get_maintenance_impact(ctx, ex);
    case route_id::impact_dry_run:
      return post_impact(ctx, ex);
    case route_id::resource:
      switch (method) {
        case m_get:
          return get_resource(ctx, ex);
        case m_put:
          return put_resource(ctx, ex);
        case m_patch:
          return patch_resource(ctx, ex);
        default:
          return delete_resource(ctx, ex);
      }
  }
}

response unauthorized() {
  response r =
      error_response(401, "unauthorized", "a valid bearer token is required (Authorization: Bearer TOKEN)");
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

// What the checks before the handler leave to it.
struct checked {
  query_params query;
  const principal* who;
};

// The checks of API.md's order up to the handler: token (before any route
// error on a path that needs one: without a token a client learns nothing,
// not even which paths exist), route, method, role, query, loading.
std::variant<checked, response> check(const router_context& ctx, const request& req,
                                      const std::variant<route_match, api_error>& matched,
                                      std::string_view query_text, unsigned method) {
  const route_match* m = std::get_if<route_match>(&matched);
  const bool needs_token = !m || m->route->needs_token;
  const principal* who = &open_principal();
  if (needs_token && ctx.tokens) {
    who = ctx.tokens->authenticate(req.authorization);
    if (!who) return unauthorized();
  }
  if (!m) return error_response(std::get<api_error>(matched));
  if (!(m->route->methods & method)) {
    response r = error_response(405, "method_not_allowed",
                                "method not allowed here; allowed: " + allow_header(m->route->methods));
    r.headers.emplace_back("Allow", allow_header(m->route->methods));
    return r;
  }
  if (auto e = role_refusal(*who, *m, method)) return error_response(*e);
  auto query = query_params::parse(query_text);
  if (auto* e = std::get_if<api_error>(&query)) return error_response(*e);
  if (auto e = unknown_parameter(*m->route, std::get<query_params>(query))) return error_response(*e);
  if (m->route->needs_token) {
    std::string reason;
    if (!ctx.loaded(&reason)) return error_response(503, "unavailable", "still loading: " + reason);
  }
  return checked{std::move(std::get<query_params>(query)), who};
}

std::pair<std::string_view, std::string_view> split_target(std::string_view target) {
  const auto question = target.find('?');
  return {target.substr(0, question),
          question == std::string_view::npos ? std::string_view() : target.substr(question + 1)};
}

}  // namespace

std::variant<router::admission, response> router::admit(const request& req) const {
  const auto [path, query_text] = split_target(req.target);
  auto matched = match_route(path);
  auto result = check(ctx_, req, matched, query_text, method_of(req.method));
  if (auto* refused = std::get_if<response>(&result)) return std::move(*refused);
  auto& ok = std::get<checked>(result);
  return admission{std::move(std::get<route_match>(matched)), std::move(ok.query), *ok.who};
}

// horao_http_requests_total and horao_http_request_duration_seconds for each
// (route, method, status) met so far. Route and method labels are static
// strings, so their addresses name them.
class router::request_metrics {
 public:
  explicit request_metrics(app::metric_registry& metrics) : metrics_(metrics) {}

  void record(std::string_view route, std::string_view method, int status, double seconds) {
    const key k{route.data(), method.data(), status};
    auto it = series_.find(k);
    if (it == series_.end()) {
      const std::string status_text = std::to_string(status);
      it = series_
               .emplace(
                   k, entry{metrics_.counter("horao_http_requests_total",
                                             {{"route", route}, {"method", method}, {"status", status_text}}),
                            metrics_.histogram("horao_http_request_duration_seconds", {{"route", route}})})
               .first;
    }
    it->second.requests.add();
    it->second.duration.observe(seconds);
  }

 private:
  using key = std::tuple<const char*, const char*, int>;
  struct entry {
    app::metric_registry::counter_series requests;
    app::metric_registry::histogram_series duration;
  };
  app::metric_registry& metrics_;
  std::map<key, entry> series_;
};

router::router(router_context context) : ctx_(std::move(context)) {
  ctx_.metrics.describe("horao_http_requests_total", app::metric_type::counter,
                        "HTTP requests answered, by route template, method and status");
  ctx_.metrics.describe("horao_http_request_duration_seconds", app::metric_type::histogram,
                        "Time from request parsed to response ready, by route template");
  register_store_gauges(ctx_);
  request_metrics_ = std::make_shared<request_metrics>(ctx_.metrics);
}

void router::handle(const request& req, responder respond) {
  const auto started = std::chrono::steady_clock::now();
  const auto [path, query_text] = split_target(req.target);
  const unsigned method = method_of(req.method);

  auto matched = match_route(path);
  const route_match* m = std::get_if<route_match>(&matched);
  // Labels are static strings: a deferred reply may outlive this call.
  const std::string_view route_label = m ? m->route->path : std::string_view("unmatched");
  const std::string_view method_label = method_name(method);
  auto answered = std::make_shared<bool>(false);
  responder reply = [metrics = request_metrics_, route_label, method_label, started, answered,
                     respond = std::move(respond)](response r) {
    if (*answered) return;
    *answered = true;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    metrics->record(route_label, method_label, r.status, seconds);
    respond(std::move(r));
  };

  try {
    auto result = check(ctx_, req, matched, query_text, method);
    if (auto* refused = std::get_if<response>(&result)) return reply(std::move(*refused));
    const checked& ok = std::get<checked>(result);
    const query_params& params = ok.query;
    const principal* who = ok.who;
    if (req.body.size() > ctx_.config.max_body_bytes)
      return reply(error_response(
          413, "body_too_large",
          "body larger than MAX_BODY_BYTES (" + std::to_string(ctx_.config.max_body_bytes) + " bytes)"));
    exchange ex{req, *m, params, *who, reply};
    dispatch(ctx_, ex, method);
  } catch (const std::exception&) {
    // A bug or an allocation failure: never let it reach the session, and
    // never say more than that it happened.
    if (!*answered) reply(error_response(500, "internal", "internal error"));
  }
}

}  // namespace horao::api
