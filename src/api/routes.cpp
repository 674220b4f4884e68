#include "horao/api/routes.hpp"

#include <array>
#include <tuple>
#include <vector>

#include "horao/api/query.hpp"

namespace horao::api {
namespace {

constexpr std::array<std::string_view, 0> no_query{};
constexpr std::array<std::string_view, 2> page_query{"limit", "after"};
constexpr std::array<std::string_view, 2> changes_query{"since", "limit"};
constexpr std::array<std::string_view, 3> capacity_query{"datacenter", "hsn_only", "at"};
constexpr std::array<std::string_view, 1> usage_query{"at"};
constexpr std::array<std::string_view, 2> watch_query{"since", "kind"};

const std::array<route_def, 16> routes{{
    {route_id::healthz, "/healthz", m_get, false, no_query, false, "Liveness: 200 while the process serves"},
    {route_id::readyz, "/readyz", m_get, false, no_query, false,
     "Readiness: 200 once recovery finished and writes can be persisted"},
    {route_id::metrics, "/metrics", m_get, false, no_query, false, "Prometheus text exposition"},
    {route_id::openapi, "/openapi.json", m_get, false, no_query, false, "This OpenAPI document"},
    {route_id::cluster, "/v1/cluster", m_get, true, no_query, false, "This daemon's replication state"},
    {route_id::cluster_sync, "/v1/cluster/sync", m_post, true, no_query, false, "Push to every peer now"},
    {route_id::changes, "/v1/changes", m_get, true, changes_query, false,
     "Changes since a local sequence number, in sequence order"},
    {route_id::watch, "/v1/watch", m_get, true, watch_query, false,
     "WebSocket: one message per change (an item of /v1/changes), replayed from `since`"},
    {route_id::batch, "/v1/batch", m_post, true, no_query, false, "All-or-nothing batch of writes"},
    {route_id::collection, "/v1/{collection}", m_get, true, page_query, true,
     "List a collection, ordered by id"},
    {route_id::resource, "/v1/{collection}/{id}", m_get | m_put | m_patch | m_delete, true, no_query, false,
     "One resource"},
    {route_id::tree, "/v1/datacenters/{id}/tree", m_get, true, no_query, false,
     "A datacenter with everything inside it, nested"},
    {route_id::capacity, "/v1/capacity", m_get, true, capacity_query, false,
     "Capacity of live, up hardware, optionally per datacenter, hsn only, minus maintenance at a time"},
    {route_id::tenant_usage, "/v1/tenants/{id}/usage", m_get, true, usage_query, false,
     "What a tenant's accepted reservations hold at a time, next to its constraints"},
    {route_id::maintenance_impact, "/v1/maintenances/{id}/impact", m_get, true, no_query, false,
     "Reservations and tenants that would no longer fit because of this maintenance"},
    {route_id::impact_dry_run, "/v1/impact", m_post, true, no_query, false,
     "Dry run: the impact of a maintenance given in the body, without creating it"},
}};

constexpr std::array<std::pair<unsigned, std::string_view>, 5> method_names{
    {{m_get, "GET"}, {m_put, "PUT"}, {m_patch, "PATCH"}, {m_delete, "DELETE"}, {m_post, "POST"}}};

std::string shown(std::string_view path) {
  constexpr std::size_t max_shown = 100;
  return path.size() > max_shown ? std::string(path.substr(0, max_shown)) + "..." : std::string(path);
}

api_error no_route(std::string_view path) {
  return api_error{404, "unknown_collection", "no collection or route at " + shown(path), ""};
}

// The views under one resource: /v1/{collection}/{id}/{view}.
const route_def* view_route(std::string_view kind, std::string_view view) {
  constexpr std::array<std::tuple<std::string_view, std::string_view, route_id>, 3> views{{
      {"datacenter", "tree", route_id::tree},
      {"tenant", "usage", route_id::tenant_usage},
      {"maintenance", "impact", route_id::maintenance_impact},
  }};
  for (const auto& [k, v, id] : views)
    if (k == kind && v == view) return &route_of(id);
  return nullptr;
}

// At most 8 segments (a path never has many; stop early on absurd ones), on
// the stack: routing is on every request's path.
struct path_segments {
  std::array<std::string_view, 8> items;
  std::size_t count = 0;
  std::size_t size() const { return count; }
  std::string_view operator[](std::size_t i) const { return items[i]; }
};

path_segments split_path(std::string_view path) {
  path_segments segments;
  std::size_t pos = 1;  // after the leading '/'
  while (segments.count < segments.items.size()) {
    const std::size_t end = std::min(path.find('/', pos), path.size());
    segments.items[segments.count++] = path.substr(pos, end - pos);
    if (end == path.size()) break;
    pos = end + 1;
  }
  return segments;
}

}  // namespace

unsigned method_of(std::string_view method) {
  for (const auto& [bit, name] : method_names)
    if (name == method) return bit;
  return 0;
}

std::string_view method_name(unsigned bit) {
  for (const auto& [b, name] : method_names)
    if (b == bit) return name;
  return "OTHER";
}

std::string allow_header(unsigned methods) {
  std::string out;
  for (const auto& [bit, name] : method_names) {
    if (!(methods & bit)) continue;
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::span<const route_def> all_routes() {
  return routes;
}

const route_def& route_of(route_id id) {
  for (const auto& r : routes)
    if (r.id == id) return r;
  return routes.front();  // unreachable: every id is in the table
}

std::variant<route_match, api_error> match_route(std::string_view path) {
  if (path.empty() || path.front() != '/') return no_route(path);
  const auto segments = split_path(path);
  route_match m;
  if (segments.size() == 1) {
    for (const auto id : {route_id::healthz, route_id::readyz, route_id::metrics, route_id::openapi})
      if (route_of(id).path.substr(1) == segments[0]) {
        m.route = &route_of(id);
        return m;
      }
    return no_route(path);
  }
  if (segments[0] != "v1" || segments.size() > 4) return no_route(path);

  const auto collection = percent_decode(segments[1]);
  if (!collection) return no_route(path);
  if (segments.size() == 2) {
    for (const auto id : {route_id::cluster, route_id::changes, route_id::watch, route_id::batch,
                          route_id::capacity, route_id::impact_dry_run})
      if (route_of(id).path.substr(4) == *collection) {
        m.route = &route_of(id);
        return m;
      }
  }
  if (segments.size() == 3 && *collection == "cluster") {
    if (segments[2] != "sync") return no_route(path);
    m.route = &route_of(route_id::cluster_sync);
    return m;
  }
  m.kind = domain::find_collection(*collection);
  if (!m.kind) return no_route(path);
  if (segments.size() == 2) {
    m.route = &route_of(route_id::collection);
    return m;
  }
  const route_def* view = nullptr;  // what /v1/{collection}/{id}/{view} names
  if (segments.size() == 4 && !(view = view_route(m.kind->kind, segments[3]))) return no_route(path);

  auto id = percent_decode(segments[2]);
  if (!id || !domain::valid_id(*id))
    return api_error{400, "invalid_id",
                     "id '" + shown(segments[2]) + "' must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}", ""};
  m.id = std::move(*id);
  m.route = view ? view : &route_of(route_id::resource);
  return m;
}

}  // namespace horao::api
