#pragma once
// The operations endpoints (API.md "Cluster and operations"): /healthz,
// /readyz, /metrics and /openapi.json. None needs a token.
//
// Invariants: /healthz is 200 while the process serves; /readyz is 200 only
// once recovery finished and writes can be persisted, 503 with the reason
// otherwise; /metrics refreshes the store gauges registered by
// register_store_gauges() at every scrape (cheaper to read then than to
// track on every write).

#include "horao/api/context.hpp"
#include "horao/api/exchange.hpp"

namespace horao::api {

void get_healthz(router_context& ctx, exchange& ex);
void get_readyz(router_context& ctx, exchange& ex);
void get_metrics(router_context& ctx, exchange& ex);
void get_openapi(router_context& ctx, exchange& ex);

// horao_records_alive{kind}, horao_store_seq, horao_store_records,
// horao_orphans: refreshed at every scrape of ctx.metrics. The store and the
// relation index must outlive the registry's scrapes.
void register_store_gauges(router_context& ctx);

}  // namespace horao::api
