#pragma once
// GET /v1/{collection} (API.md "Listing"): live resources of one kind in id
// order, `limit` (1..1000, default 100) per page from after `after`, with
// equality filters on top-level scalar fields (?status=down&row=3).
//
// Answer: {"items": [...], "next": "ID" | null}. `next` is set when the page
// is full and another record follows, and also when the request stopped after
// scanning max_scan records (router_context) without filling the page: a
// filter that matches nothing costs a bounded amount of work per call, and
// the client continues with ?after=next. `next` null means the end.
//
// Invariants: filter values are parsed by the field's schema
// (domain::filter_value) and compared as JSON values, so ?row=3 matches a
// stored 3 and ?clock=3 matches 3.0; a filter on an unknown, non-scalar or
// malformed field is 400 bad_query before anything is scanned; a tenant
// principal sees only its own records (access.hpp), as if filtered.

#include "horao/api/context.hpp"
#include "horao/api/exchange.hpp"

namespace horao::api {

void list_collection(router_context& ctx, exchange& ex);

}  // namespace horao::api
