#include "horao/api/scheduling_handlers.hpp"

#include <algorithm>

#include "horao/api/json_body.hpp"
#include "horao/api/resource_write.hpp"
#include "horao/api/scheduling.hpp"
#include "horao/crdt/hlc.hpp"
#include "horao/domain/kinds.hpp"

namespace horao::api {
namespace {

using nlohmann::json;

response json_response(const json& body) {
  response r;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

api_error not_found(std::string_view key) {
  return api_error{404, "not_found", "no live resource " + std::string(key), ""};
}

// The scheduler, or the 503 that says it is missing (a router built without
// one, as some tests do; the daemon always wires it).
scheduling* scheduler_or_refuse(router_context& ctx, exchange& ex) {
  if (!ctx.scheduler)
    ex.reply(error_response(503, "unavailable", "scheduling is not available in this daemon"));
  return ctx.scheduler;
}

// `?at=`: an RFC 3339 time; `fallback` when absent.
std::variant<std::int64_t, api_error> time_parameter(const query_params& query, std::string_view name,
                                                     std::int64_t fallback) {
  const std::string* text = query.find(name);
  if (!text) return fallback;
  const auto us = crdt::parse_time_us(*text);
  if (!us) return bad_query(name, "expected an RFC 3339 time such as 2026-12-01T08:00:00Z");
  return *us;
}

std::variant<bool, api_error> bool_parameter(const query_params& query, std::string_view name) {
  const std::string* text = query.find(name);
  if (!text || *text == "false") return false;
  if (*text == "true") return true;
  return bad_query(name, "expected true or false");
}

// A tenant sees its own reservations only, and itself among the tenants.
void keep_own(domain::impact_report& report, const principal& who) {
  if (who.role != role::tenant) return;
  std::erase_if(report.reservations,
                [&](const domain::impacted_reservation& r) { return r.tenant != who.tenant; });
  report.tenants.clear();
  if (!report.reservations.empty()) report.tenants.push_back(who.tenant);
}

void reply_impact(exchange& ex, domain::impact_report report) {
  keep_own(report, ex.who);
  ex.reply(json_response(report.to_json()));
}

// The dry run's body: a maintenance as PUT takes it. A client may post back
// what it read (kind, id and meta are dropped like on PUT).
std::variant<domain::maintenance_window, api_error> window_of_body(router_context& ctx, const request& req) {
  if (auto e = require_json(req)) return *e;
  auto parsed = parse_json(req.body);
  if (auto* e = std::get_if<api_error>(&parsed)) return std::move(*e);
  json& body = std::get<json>(parsed);
  if (!body.is_object()) return api_error{400, "bad_json", "the body must be a JSON object", ""};
  std::string id = "dry-run";
  if (auto it = body.find("id"); it != body.end() && it->is_string()) id = it->get<std::string>();
  const domain::kind_info& kind = *domain::find_kind("maintenance");
  auto prepared = prepare_body(kind, id, std::move(body), store_references(ctx.store));
  if (auto* e = std::get_if<api_error>(&prepared)) return std::move(*e);
  auto window = domain::parse_maintenance(std::get<json>(prepared));
  // Unreachable for a validated body; kept so that a schema change cannot
  // turn into a silent empty report.
  if (!window)
    return api_error{422, "validation_failed", "the body cannot be read as a maintenance window", ""};
  return std::move(*window);
}

}  // namespace

void get_capacity(router_context& ctx, exchange& ex) {
  scheduling* s = scheduler_or_refuse(ctx, ex);
  if (!s) return;
  domain::capacity_query q;
  if (const std::string* dc = ex.query.find("datacenter")) {
    if (!domain::valid_id(*dc))
      return ex.reply(error_response(bad_query("datacenter", "expected a datacenter id")));
    const std::string key = domain::make_key("datacenter", *dc);
    if (!ctx.store.find_alive(key)) return ex.reply(error_response(not_found(key)));
    q.datacenter = *dc;
  }
  const auto hsn_only = bool_parameter(ex.query, "hsn_only");
  if (auto* e = std::get_if<api_error>(&hsn_only)) return ex.reply(error_response(*e));
  q.hsn_only = std::get<bool>(hsn_only);
  if (ex.query.find("at")) {
    const auto at = time_parameter(ex.query, "at", 0);
    if (auto* e = std::get_if<api_error>(&at)) return ex.reply(error_response(*e));
    q.at = std::get<std::int64_t>(at);
  }
  ex.reply(json_response(domain::capacity_json(s->capacity(q))));
}

void get_tenant_usage(router_context& ctx, exchange& ex) {
  scheduling* s = scheduler_or_refuse(ctx, ex);
  if (!s) return;
  const auto at = time_parameter(ex.query, "at", s->now_us());
  if (auto* e = std::get_if<api_error>(&at)) return ex.reply(error_response(*e));
  const std::string key = domain::make_key("tenant", ex.route.id);
  if (!ctx.store.find_alive(key)) return ex.reply(error_response(not_found(key)));
  ex.reply(json_response(s->usage(ex.route.id, std::get<std::int64_t>(at)).to_json()));
}

void get_maintenance_impact(router_context& ctx, exchange& ex) {
  scheduling* s = scheduler_or_refuse(ctx, ex);
  if (!s) return;
  const std::string key = domain::make_key("maintenance", ex.route.id);
  if (!ctx.store.find_alive(key)) return ex.reply(error_response(not_found(key)));
  auto report = s->impact_of(ex.route.id);
  // Live but not a window: only a faulty peer writes such a record.
  if (!report)
    return ex.reply(error_response(422, "validation_failed",
                                   key + " cannot be read as a maintenance window (start, end, targets)"));
  reply_impact(ex, std::move(*report));
}

void post_impact(router_context& ctx, exchange& ex) {
  scheduling* s = scheduler_or_refuse(ctx, ex);
  if (!s) return;
  auto window = window_of_body(ctx, ex.req);
  if (auto* e = std::get_if<api_error>(&window)) return ex.reply(error_response(*e));
  reply_impact(ex, s->impact_of(std::get<domain::maintenance_window>(window)));
}

}  // namespace horao::api
