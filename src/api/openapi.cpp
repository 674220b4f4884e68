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
  if (route.id == route_id::resource || route.id == route_id::tree) params.push_back(id_parameter());
  if (route.id == route_id::changes) {
    params.push_back(query_parameter("since", {{"type", "integer"}, {"minimum", 0}, {"default", 0}},
                                     "return changes with a sequence number above this"));
    params.push_back(limit_parameter());
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
            {"field", {{"type", "string"}, {"description", "JSON pointer of the offending field"}}}}}}}}}};
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
  schemas["Changes"] = {{"type", "object"},
                        {"properties",
                         {{"changes",
                           {{"type", "array"},
                            {"items",
                             {{"type", "object"},
                              {"properties",
                               {{"seq", {{"type", "integer"}}},
                                {"key", {{"type", "string"}}},
                                {"deleted", {{"type", "boolean"}}},
                                {"resource", {{"type", "object"}, {"nullable", true}}}}}}}}},
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
