#pragma once
// GET /v1/changes?since=SEQ&limit=N (API.md "Changes"):
//   {"changes": [{"seq", "key", "deleted", "resource"}], "next": SEQ, "resync": bool}
// in this daemon's sequence order, one entry per key (the newest change:
// older ones of the same key have coalesced). `resource` is the resource as
// GET shows it, null when deleted. `next` is the `since` of the following
// call: the last sequence looked at, or `since` when nothing is new.
// `resync` is true when `since` is older than what the change log can still
// replay (tombstones were purged): deletions may be missing, and a client
// should list the collections again.
//
// Invariants: at most `limit` (1..1000, default 100) changes and at most
// max_scan entries looked at per call; changes a principal may not read
// (other tenants' reservations and vms) are skipped, not shown redacted, and
// `next` still moves past them.

#include <cstdint>
#include <string>
#include <string_view>

#include "horao/api/context.hpp"
#include "horao/api/exchange.hpp"

namespace horao::api {

void list_changes(router_context& ctx, exchange& ex);

// Shared with the /v1/watch feed (watch_hub.hpp), so that a watch message
// and an item of `changes` cannot differ.
//
// Whether `who` may see this change of `kind`/`id` at all. A deleted record
// keeps no fields, so whose it was is unknown: a tenant sees no deletions of
// tenant-owned kinds, nor of other tenants' records.
bool may_see_change(const principal& who, std::string_view kind, std::string_view id,
                    const store::stored_record& entry);
// Appends one item, {"seq","key","deleted","resource"}, as compact JSON.
void append_change_item(std::string& out, const router_context& ctx, std::uint64_t seq, std::string_view key,
                        const store::stored_record& entry);

}  // namespace horao::api
