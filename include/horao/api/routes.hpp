#pragma once
// The routes table: every path template the router answers, its methods and
// query parameters. Dispatch, the `Allow` header, the metrics label and
// /openapi.json all read this one table, so they cannot disagree.
//
// Invariants: templates are distinct; match_route() decodes each path segment
// once (percent-decoding), returns the route with the collection's kind and
// the decoded id, and otherwise refuses with 404 unknown_collection (no such
// path) or 400 invalid_id (the id segment is not a valid id). It never
// echoes more than a bounded prefix of the path.

#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "horao/api/errors.hpp"
#include "horao/domain/kinds.hpp"

namespace horao::api {

// Methods as bits, so a route's methods are one mask.
enum method_bit : unsigned { m_get = 1, m_put = 2, m_patch = 4, m_delete = 8, m_post = 16 };
// The bit of a request method, 0 for any other (HEAD, OPTIONS, junk).
unsigned method_of(std::string_view method);
// "GET, PUT, ..." for an `Allow` header, in a fixed order.
std::string allow_header(unsigned methods);
// The name of one bit: "GET", ...; the metrics label of an unknown method is "OTHER".
std::string_view method_name(unsigned bit);

enum class route_id {
  healthz,
  readyz,
  metrics,
  openapi,
  cluster,
  cluster_sync,
  changes,
  watch,  // /v1/watch: a WebSocket (net/); a plain GET is answered 426
  batch,
  collection,  // /v1/{collection}
  resource,    // /v1/{collection}/{id}
  tree,        // /v1/datacenters/{id}/tree
  // The scheduling views (scheduling_handlers.hpp).
  capacity,            // /v1/capacity
  tenant_usage,        // /v1/tenants/{id}/usage
  maintenance_impact,  // /v1/maintenances/{id}/impact
  impact_dry_run,      // /v1/impact (POST)
};

struct route_def {
  route_id id;
  std::string_view path;  // the template: metrics label and OpenAPI path
  unsigned methods;
  bool needs_token;                         // false: /healthz, /readyz, /metrics, /openapi.json
  std::span<const std::string_view> query;  // accepted query parameters
  bool field_filters;                       // plus equality filters on top-level scalar fields
  std::string_view summary;
};

std::span<const route_def> all_routes();
const route_def& route_of(route_id id);

struct route_match {
  const route_def* route = nullptr;
  const domain::kind_info* kind = nullptr;  // collection, resource, and /v1/{collection}/{id}/... views
  std::string id;                           // resource and views under it: decoded and valid
};

// `path` is the target without its query.
std::variant<route_match, api_error> match_route(std::string_view path);

}  // namespace horao::api
