#pragma once
// GET /v1/cluster and POST /v1/cluster/sync (API.md "Cluster and operations").
//
//   {"node": id, "seq": local sequence, "clock": HLC text of the last stamp,
//    "records": every record held, tombstones included (what the digest covers),
//    "digest": 32 hex digits, "peers": [...]}
//
// Invariants: nothing secret is shown (peer state comes from the replication
// layer's hook, which must not include PEER_SECRET or tokens); `digest` is
// the store's order-independent state digest, so two daemons show the same
// one exactly when they hold the same state. POST /v1/cluster/sync answers
// 202 after asking the replication layer to push now; it writes nothing.

#include "horao/api/context.hpp"
#include "horao/api/exchange.hpp"

namespace horao::api {

void get_cluster(router_context& ctx, exchange& ex);
void post_cluster_sync(router_context& ctx, exchange& ex);

}  // namespace horao::api
