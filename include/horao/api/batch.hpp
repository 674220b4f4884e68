#pragma once
// POST /v1/batch (API.md "Batches"):
//   {"operations": [{"op": "put"|"patch"|"delete", "key": "kind/id", "body": {...}}, ...]}
// at most max_batch_operations. Every operation is validated first, in order,
// against the store as the earlier operations of the batch leave it (an
// overlay): a reference may name a resource created earlier in the batch, a
// resource deleted earlier is gone for later ones, and a delete is refused
// (409 has_children) if live children remain once the earlier operations are
// counted. Then all are applied, in order, and the answer waits for the
// durability of the last one: 200 {"results": [{"key", "status", "resource"}]}
// with status 201/200/204 per operation (resource null for a delete).
//
// Invariants: any refusal (the operation's own status: 422 validation_failed,
// 404 not_found, 403 forbidden, 409 has_children) names the operation in
// `field` ("/operations/17/body/row") and applies nothing; reservations are
// refused (422) because they go through the scheduler one by one.

#include <cstddef>

#include "horao/api/context.hpp"
#include "horao/api/exchange.hpp"

namespace horao::api {

inline constexpr std::size_t max_batch_operations = 10'000;

void post_batch(router_context& ctx, exchange& ex);

}  // namespace horao::api
