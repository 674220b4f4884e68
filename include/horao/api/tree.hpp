#pragma once
// GET /v1/datacenters/{id}/tree: a datacenter with everything inside it.
//
//   {"datacenter": {...the datacenter..., "contains": {
//       "cabinets": [{...cabinet..., "contains": {
//           "chassis":   [{...chassis..., "contains": {"blades": [{...blade..., "contains": {
//                            "nodes": [{...node..., "contains": {"disks": [...]}}]}}]}}],
//           "servers":   [{...server..., "contains": {"disks": [{...disk...}]}}],
//           "switches":  [...], "routers": [...], "firewalls": [...]}}],
//       "networks": [{...network...}]}},
//    "orphans": [{"key": "server/s9", "missing": [{"field": "cabinet", "key": "cabinet/c7"}]}],
//    "truncated": false}
//
// Every resource is shown as GET shows it, plus a "contains" member (no
// schema field has that name) with one array per kind of child, each in id
// order, present even when empty, so the shape is fixed per kind. VMs are
// not part of the physical tree.
//
// Orphans (hardware whose parent is gone, left by concurrent writes on two
// daemons) are listed apart and globally: a deleted parent keeps no fields,
// so which datacenter it was in is no longer known. At most max_tree_orphans.
//
// Invariants: built from the relation index (children per parent), never by
// scanning a collection; at most max_tree_resources resources are shown, and
// "truncated" says whether some were left out.

#include <cstddef>

#include "horao/api/context.hpp"
#include "horao/api/exchange.hpp"

namespace horao::api {

inline constexpr std::size_t max_tree_resources = 50'000;
inline constexpr std::size_t max_tree_orphans = 1'000;

void get_tree(router_context& ctx, exchange& ex);

}  // namespace horao::api
