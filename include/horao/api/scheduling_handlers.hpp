#pragma once
// The scheduling views of API.md: GET /v1/capacity, GET
// /v1/tenants/{id}/usage, GET /v1/maintenances/{id}/impact and the dry run
// POST /v1/impact, answered through router_context::scheduler.
//
//   capacity  {"cpu", "ram_gb", "accelerators", "block_tb", "object_tb"};
//             ?datacenter=ID (404 when no live datacenter has it),
//             ?hsn_only=true|false, ?at=TIME (minus maintenance then)
//   usage     {"tenant", "at", "usage": {...}, "constraints": {...}, "reservations": [ids]};
//             ?at=TIME, default now
//   impact    {"reservations": [{"id", "tenant", "short": {dimension: amount}}], "tenants": [ids]}
//
// Invariants: nothing here writes to the store (the dry run included);
// a malformed parameter is 400 bad_query naming it, an unknown tenant or
// maintenance 404 not_found; a tenant principal's impact report lists only
// its own reservations (the router has already refused usage of another
// tenant, and every reader); without a scheduler every route is 503.

#include "horao/api/context.hpp"
#include "horao/api/exchange.hpp"

namespace horao::api {

void get_capacity(router_context& ctx, exchange& ex);
void get_tenant_usage(router_context& ctx, exchange& ex);
void get_maintenance_impact(router_context& ctx, exchange& ex);
void post_impact(router_context& ctx, exchange& ex);

}  // namespace horao::api
