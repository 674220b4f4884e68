#include "horao/api/openapi.hpp"

#include "horao/api/batch.hpp"
#include "horao/api/query.hpp"
#include "horao/api/routes.hpp"
#include "horao/domain/json_schema.hpp"
#include "horao/domain/kinds.hpp"
#include "horao/domain/schema.hpp"

namespace horao::api {
namespace {

using nlohmann::json;

constexpr const char* id_pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$";

json ref_to(const std::string& where) {
  return {{"$ref", where}};
}

json json_content(json schema) {
  return {{"application/json", {{"schema", std::move(schema)}}}};
}

json ok(std::string description, json schema) {
  return {{"description", std::move(description)}, {"content", json_content(std::move(schema))}};
}

// Error responses by status, each pointing at the shared Error schema.
void add_errors(json& responses, std::initializer_list<int> statuses) {
  for (int status : statuses) responses[std::to_string(status)] = ref_to("#/components/responses/Error");
}

json id_parameter() {
  return {{"name", "id"},
          {"in", "path"},
          {"required", true},
          {"schema", {{"type", "string"}, {"pattern", id_pattern}}}};
}

json query_parameter(std::string name, json schema, std::string description) {
  return {{"name", std::move(name)},
          {"in", "query"},
          {"required", false},
          {"schema", std::move(schema)},
          {"description", std::move(description)}};
}

json limit_parameter() {
  return query_parameter(
      "limit",
      {{"type", "integer"}, {"minimum", 1}, {"maximum", max_page_limit}, {"default", default_page_limit}},
      "page size");
}

std::string schema_ref(std::string_view kind, std::string_view suffix = {}) {
  return "#/components/schemas/" + std::string(kind) + std::string(suffix);
}

json resource_parameters(const route_def& route, const domain::kind_info* kind) {
  json params = json::array();
  if (route.id == route_id::resource || route.id == route_id::tree || route.id == route_id::tenant_usage ||
      route.id == route_id::maintenance_impact)
    params.push_back(id_parameter());
  const json time_schema = {{"type", "string"}, {"format", "date-time"}};
  if (route.id == route_id::capacity) {
    params.push_back(query_parameter("datacenter", {{"type", "string"}, {"pattern", id_pattern}},
                                     "only this datacenter (404 when it is not live)"));
    params.push_back(query_parameter("hsn_only", {{"type", "boolean"}, {"default", false}},
                                     "only machines on a data network with hsn, and their disks"));
    params.push_back(query_parameter("at", time_schema, "minus the hardware under maintenance at this time"));
  }
  if (route.id == route_id::tenant_usage)
    params.push_back(query_parameter("at", time_schema, "the instant; default now"));
  if (route.id == route_id::changes) {
    params.push_back(query_parameter("since", {{"type", "integer"}, {"minimum", 0}, {"default", 0}},
                                     "return changes with a sequence number above this"));
    params.push_back(limit_parameter());
  }
  if (route.id == route_id::watch) {
    params.push_back(
        query_parameter("since", {{"type", "integer"}, {"minimum", 0}},
                        "replay the changes after this sequence number first; absent: live only"));
    params.push_back(query_parameter("kind", {{"type", "string"}},
                                     "only changes of these kinds (comma-separated, e.g. server,node)"));
  }
  if (route.id == route_id::collection) {
    params.push_back(limit_parameter());
    params.push_back(query_parameter("after", {{"type", "string"}, {"pattern", id_pattern}},
                                     "the `next` of the previous page"));
    for (const auto& f : domain::schema_of(*kind).fields())
      if (domain::is_scalar(f.value))
        params.push_back(query_parameter(f.name, domain::openapi_value_schema(f.value), "equality filter"));
  }
  return params;
}

// "get" + "/v1/servers/{id}" -> "get_v1_servers_id": unique per path and method.
std::string operation_id(std::string_view method, std::string_view path) {
  std::string id(method);
  for (char c : path) {
    const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (word)
      id += c;
    else if (id.back() != '_')
      id += '_';
  }
  while (id.back() == '_') id.pop_back();
  return id;
}

json operation(const route_def& route, unsigned method, const domain::kind_info* kind,
               const std::string& path) {
  json op;
  json responses = json::object();
  const std::string kind_name = kind ? std::string(kind->kind) : std::string();
  std::string method_text(method_name(method));
  for (auto& c : method_text) c = static_cast<char>(c - 'A' + 'a');
  op["summary"] = std::string(route.summary);

  switch (route.id) {
    case route_id::healthz:
      responses["200"] = ok("serving", {{"type", "object"}});
      break;
    case route_id::readyz:
      responses["200"] = ok("ready", {{"type", "object"}});
      responses["503"] = ok("loading or storage unavailable, with the reason", {{"type", "object"}});
      break;
    case route_id::metrics:
      responses["200"] = {{"description", "Prometheus text exposition 0.0.4"},
                          {"content", {{"text/plain", {{"schema", {{"type", "string"}}}}}}}};
      break;
    case route_id::openapi:
      responses["200"] = ok("this document", {{"type", "object"}});
      break;
    case route_id::cluster:
      responses["200"] = ok("replication state", ref_to("#/components/schemas/Cluster"));
      add_errors(responses, {401, 403});
      break;
    case route_id::cluster_sync:
      responses["202"] = ok("a push to every peer was requested", {{"type", "object"}});
      add_errors(responses, {401, 403});
      break;
    case route_id::changes:
      responses["200"] = ok("changes in sequence order", ref_to("#/components/schemas/Changes"));
      add_errors(responses, {400, 401, 403, 503});
      break;
    case route_id::watch:
      op["description"] =
          "A WebSocket (send the upgrade request): after the upgrade, one JSON text message per change, "
          "each an item of /v1/changes (schema ChangeItem). A plain GET is answered 426.";
      responses["101"] = {{"description", "switching protocols; then one ChangeItem per text message"}};
      add_errors(responses, {400, 401, 403, 410, 426, 503});
      break;
    case route_id::batch:
      op["requestBody"] = {{"required", true},
                           {"content", json_content(ref_to("#/components/schemas/Batch"))}};
      responses["200"] = ok("every operation applied", ref_to("#/components/schemas/BatchResults"));
      add_errors(responses, {400, 401, 403, 404, 409, 413, 415, 422, 503});
      break;
    case route_id::collection:
      responses["200"] =
          ok("a page of " + std::string(kind->collection),
             {{"type", "object"},
              {"required", {"items", "next"}},
              {"properties",
               {{"items", {{"type", "array"}, {"items", ref_to(schema_ref(kind_name, "_resource"))}}},
                {"next", {{"type", "string"}, {"nullable", true}}}}}});
      add_errors(responses, {400, 401, 403, 503});
      break;
    case route_id::resource: {
      const json resource = ok(kind_name, ref_to(schema_ref(kind_name, "_resource")));
      if (method == m_get) {
        responses["200"] = resource;
        responses["200"]["headers"] = {{"ETag", {{"schema", {{"type", "string"}}}}}};
        add_errors(responses, {400, 401, 403, 404, 503});
      } else if (method == m_put) {
        op["requestBody"] = {{"required", true}, {"content", json_content(ref_to(schema_ref(kind_name)))}};
        responses["200"] = resource;
        responses["201"] = resource;
        add_errors(responses, {400, 401, 403, 409, 412, 413, 415, 422, 503});
      } else if (method == m_patch) {
        op["requestBody"] = {{"required", true},
                             {"content",
                              {{"application/merge-patch+json", {{"schema", {{"type", "object"}}}}},
                               {"application/json", {{"schema", {{"type", "object"}}}}}}}};
        op["description"] = "RFC 7396 merge patch; the result must be a valid " + kind_name;
        responses["200"] = resource;
        add_errors(responses, {400, 401, 403, 404, 409, 412, 413, 415, 422, 503});
      } else {
        responses["204"] = {{"description", "deleted"}};
        add_errors(responses, {400, 401, 403, 404, 409, 412, 503});
      }
      if (method != m_get)
        op["parameters"] = json::array({id_parameter(),
                                        {{"name", "If-Match"},
                                         {"in", "header"},
                                         {"required", false},
                                         {"schema", {{"type", "string"}}}}});
      break;
    }
    case route_id::tree:
      responses["200"] =
          ok("the datacenter with everything inside it, nested", ref_to("#/components/schemas/Tree"));
      add_errors(responses, {400, 401, 403, 404, 503});
      break;
    case route_id::capacity:
      responses["200"] = ok("capacity", ref_to("#/components/schemas/Capacity"));
      add_errors(responses, {400, 401, 403, 404, 503});
      break;
    case route_id::tenant_usage:
      responses["200"] = ok("the tenant's usage and constraints", ref_to("#/components/schemas/Usage"));
      add_errors(responses, {400, 401, 403, 404, 503});
      break;
    case route_id::maintenance_impact:
      responses["200"] =
          ok("reservations and tenants that would no longer fit", ref_to("#/components/schemas/Impact"));
      add_errors(responses, {400, 401, 403, 404, 422, 503});
      break;
    case route_id::impact_dry_run:
      op["requestBody"] = {{"required", true}, {"content", json_content(ref_to(schema_ref("maintenance")))}};
      responses["200"] = ok("reservations and tenants that would no longer fit; nothing is created",
                            ref_to("#/components/schemas/Impact"));
      add_errors(responses, {400, 401, 403, 413, 415, 422, 503});
      break;
  }
  op["operationId"] = operation_id(method_text, path);
  if (!op.contains("parameters")) {
    json params = resource_parameters(route, kind);
    if (!params.empty()) op["parameters"] = std::move(params);
  }
  op["responses"] = std::move(responses);
  if (!route.needs_token) op["security"] = json::array();
  return op;
}

// "/v1/{collection}/{id}" for servers -> "/v1/servers/{id}".
std::string concrete_path(std::string_view path, const domain::kind_info* kind) {
  std::string out(path);
  if (const auto at = out.find("{collection}"); at != std::string::npos && kind)
    out.replace(at, std::string_view("{collection}").size(), kind->collection);
  return out;
}

json components() {
  json schemas = json::object();
  for (const auto& k : domain::all_kinds()) {
    schemas[std::string(k.kind)] = domain::openapi_body_schema(k);
    schemas[std::string(k.kind) + "_resource"] = domain::openapi_resource_schema(k);
  }
  schemas["Error"] = {
      {"type", "object"},
      {"required", {"error"}},
      {"properties",
       {{"error",
         {{"type", "object"},
          {"required", {"code", "message"}},
          {"properties",
           {{"code", {{"type", "string"}}},
            {"message", {{"type", "string"}}},
            {"field", {{"type", "string"}, {"description", "JSON pointer of the offending field"}}},
            {"details",
             {{"type", "object"},
              {"description",
               "409 from the scheduler: {dimension, limit, asked, held} for constraint_exceeded, "
               "{shortages: [{dimension, pool, asked, available, short}], at, holders: [{key, tenant, "
               "amount}], others?} for insufficient_capacity"}}}}}}}}}};
  schemas["Batch"] = {{"type", "object"},
                      {"required", {"operations"}},
                      {"additionalProperties", false},
                      {"properties",
                       {{"operations",
                         {{"type", "array"},
                          {"maxItems", max_batch_operations},
                          {"items",
                           {{"type", "object"},
                            {"required", {"op", "key"}},
                            {"additionalProperties", false},
                            {"properties",
                             {{"op", {{"type", "string"}, {"enum", {"put", "patch", "delete"}}}},
                              {"key", {{"type", "string"}, {"description", "kind/id"}}},
                              {"body", {{"type", "object"}}}}}}}}}}}};
  schemas["BatchResults"] = {{"type", "object"},
                             {"properties",
                              {{"results",
                                {{"type", "array"},
                                 {"items",
                                  {{"type", "object"},
                                   {"properties",
                                    {{"key", {{"type", "string"}}},
                                     {"status", {{"type", "integer"}, {"enum", {200, 201, 204}}}},
                                     {"resource", {{"type", "object"}, {"nullable", true}}}}}}}}}}}};
  schemas["ChangeItem"] = {{"type", "object"},
                           {"required", {"seq", "key", "deleted", "resource"}},
                           {"properties",
                            {{"seq", {{"type", "integer"}}},
                             {"key", {{"type", "string"}}},
                             {"deleted", {{"type", "boolean"}}},
                             {"resource", {{"type", "object"}, {"nullable", true}}}}}};
  schemas["Changes"] = {
      {"type", "object"},
      {"properties",
       {{"changes", {{"type", "array"}, {"items", ref_to("#/components/schemas/ChangeItem")}}},
        {"next", {{"type", "integer"}}},
        {"resync", {{"type", "boolean"}}}}}};
  schemas["Cluster"] = {{"type", "object"},
                        {"properties",
                         {{"node", {{"type", "string"}}},
                          {"seq", {{"type", "integer"}}},
                          {"clock", {{"type", "string"}}},
                          {"records", {{"type", "integer"}}},
                          {"digest", {{"type", "string"}}},
                          {"peers",
                           {{"type", "array"},
                            {"items",
                             {{"type", "object"},
                              {"properties",
                               {{"url", {{"type", "string"}}},
                                {"node", {{"type", "string"}}},
                                {"connected", {{"type", "boolean"}}},
                                {"pending", {{"type", "integer"}}},
                                {"acked_seq", {{"type", "integer"}}},
                                {"last_push", {{"type", "string"}, {"nullable", true}}},
                                {"last_error", {{"type", "string"}, {"nullable", true}}}}}}}}}}}};
  json amounts_schema = {{"type", "object"}, {"required", {"cpu", "ram_gb", "accelerators", "block_tb", "object_tb"}}};
  for (const char* d : {"cpu", "ram_gb", "accelerators"}) amounts_schema["properties"][d] = {{"type", "integer"}};
  for (const char* d : {"block_tb", "object_tb"}) amounts_schema["properties"][d] = {{"type", "number"}};
  schemas["Capacity"] = amounts_schema;
  schemas["Usage"] = {{"type", "object"},
                      {"required", {"tenant", "at", "usage", "constraints", "reservations"}},
                      {"properties",
                       {{"tenant", {{"type", "string"}}},
                        {"at", {{"type", "string"}, {"format", "date-time"}}},
                        {"usage", ref_to("#/components/schemas/Capacity")},
                        {"constraints", {{"type", "object"}, {"description", "only the limits that are set"}}},
                        {"reservations", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}};
  schemas["Impact"] = {
      {"type", "object"},
      {"required", {"reservations", "tenants"}},
      {"properties",
       {{"reservations",
         {{"type", "array"},
          {"items",
           {{"type", "object"},
            {"properties",
             {{"id", {{"type", "string"}}},
              {"tenant", {{"type", "string"}}},
              {"short", {{"type", "object"}, {"description", "what it lacks, per dimension"}}}}}}}}},
        {"tenants", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}};
  schemas["Tree"] = {
      {"type", "object"},
      {"properties",
       {{"datacenter", {{"type", "object"}, {"description", "datacenter_resource plus \"contains\""}}},
        {"orphans", {{"type", "array"}, {"items", {{"type", "object"}}}}},
        {"truncated", {{"type", "boolean"}}}}}};
  return {
      {"schemas", std::move(schemas)},
      {"responses", {{"Error", ok("an error (API.md \"Errors\")", ref_to("#/components/schemas/Error"))}}},
      {"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}};
}

}  // namespace

json openapi_document() {
  json paths = json::object();
  for (const auto& route : all_routes()) {
    const bool per_collection = route.id == route_id::collection || route.id == route_id::resource;
    std::vector<const domain::kind_info*> kinds;
    if (per_collection)
      for (const auto& k : domain::all_kinds()) kinds.push_back(&k);
    else
      kinds.push_back(route.id == route_id::tree ? domain::find_kind("datacenter") : nullptr);
    for (const auto* kind : kinds) {
      const std::string path = concrete_path(route.path, kind);
      json& item = paths[path];
      for (unsigned bit = 1; bit <= m_post; bit <<= 1) {
        if (!(route.methods & bit)) continue;
        std::string method(method_name(bit));
        for (auto& c : method) c = static_cast<char>(c - 'A' + 'a');
        item[method] = operation(route, bit, kind, path);
      }
    }
  }
  return {{"openapi", "3.0.3"},
          {"info",
           {{"title", "HORAO"},
            {"version", "1"},
            {"description", "A replicated picture of datacenter infrastructure (API.md)."}}},
          {"paths", std::move(paths)},
          {"components", components()},
          {"security", json::array({{{"bearer", json::array()}}})}};
}

const std::string& openapi_text() {
  static const std::string text = openapi_document().dump();
  return text;
}

}  // namespace horao::api
