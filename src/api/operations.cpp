#include "horao/api/operations.hpp"

#include "horao/api/openapi.hpp"

namespace horao::api {
namespace {

response json_response(int status, const nlohmann::json& body) {
  response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

}  // namespace

void get_healthz(router_context&, exchange& ex) {
  ex.reply(json_response(200, {{"status", "ok"}}));
}

void get_readyz(router_context& ctx, exchange& ex) {
  std::string reason;
  if (!ctx.loaded(&reason)) return ex.reply(json_response(503, {{"status", "loading"}, {"reason", reason}}));
  if (!ctx.durability.accepting_writes(&reason))
    return ex.reply(json_response(503, {{"status", "unavailable"}, {"reason", reason}}));
  ex.reply(json_response(200, {{"status", "ready"}}));
}

void get_metrics(router_context& ctx, exchange& ex) {
  response r;
  r.body = ctx.metrics.render();
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  ex.reply(std::move(r));
}

void get_openapi(router_context&, exchange& ex) {
  response r;
  r.body = openapi_text();
  ex.reply(std::move(r));
}

void register_store_gauges(router_context& ctx) {
  auto& m = ctx.metrics;
  m.describe("horao_records_alive", app::metric_type::gauge, "Live records by kind");
  m.describe("horao_store_seq", app::metric_type::gauge, "The local sequence number of the newest change");
  m.describe("horao_store_records", app::metric_type::gauge, "Records held, tombstones included");
  m.describe("horao_orphans", app::metric_type::gauge, "Live records whose parent is not live (DESIGN 6)");
  const store::record_store& store = ctx.store;
  const domain::relation_index& relations = ctx.relations;
  m.on_scrape([&store, &relations](app::metric_registry& r) {
    for (const auto& k : domain::all_kinds())
      r.gauge_set("horao_records_alive", {{"kind", k.kind}}, static_cast<double>(store.count_alive(k.kind)));
    r.gauge_set("horao_store_seq", static_cast<double>(store.seq()));
    r.gauge_set("horao_store_records", static_cast<double>(store.size()));
    r.gauge_set("horao_orphans", static_cast<double>(relations.orphan_count()));
  });
}

}  // namespace horao::api
