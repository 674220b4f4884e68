#include "horao/domain/json_schema.hpp"

#include <cmath>
#include <limits>

namespace horao::domain {
namespace {

using nlohmann::json;

constexpr const char* id_regex = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$";

json object_schema(const std::vector<field_spec>& members) {
  json properties = json::object();
  json required = json::array();
  for (const auto& f : members) {
    json p = openapi_value_schema(f.value);
    if (f.default_value) p["default"] = *f.default_value;
    if (f.read_only) p["readOnly"] = true;
    properties[f.name] = std::move(p);
    if (f.required) required.push_back(f.name);
  }
  json s = {{"type", "object"}, {"properties", std::move(properties)}, {"additionalProperties", false}};
  if (!required.empty()) s["required"] = std::move(required);
  return s;
}

}  // namespace

json openapi_value_schema(const value_spec& v) {
  switch (v.kind) {
    case value_kind::string: {
      json s = {{"type", "string"}, {"maxLength", max_string_bytes}};
      if (v.min_length > 0) s["minLength"] = v.min_length;
      return s;
    }
    case value_kind::integer: {
      json s = {{"type", "integer"}, {"format", "int64"}};
      if (v.int_min != std::numeric_limits<std::int64_t>::min()) s["minimum"] = v.int_min;
      if (v.int_max != std::numeric_limits<std::int64_t>::max()) s["maximum"] = v.int_max;
      return s;
    }
    case value_kind::number: {
      json s = {{"type", "number"}, {"format", "double"}};
      if (std::isfinite(v.number_min)) {
        s["minimum"] = v.number_min;
        // OpenAPI 3.0 (JSON Schema draft 4): a boolean beside "minimum".
        if (v.number_exclusive) s["exclusiveMinimum"] = true;
      }
      return s;
    }
    case value_kind::boolean:
      return {{"type", "boolean"}};
    case value_kind::enumeration:
      return {{"type", "string"}, {"enum", v.choices}};
    case value_kind::time:
      return {{"type", "string"}, {"format", "date-time"}};
    case value_kind::id_ref:
      return {
          {"type", "string"}, {"pattern", id_regex}, {"description", "id of a live " + v.ref_kinds.at(0)}};
    case value_kind::key_ref: {
      std::string kinds;
      std::string described;
      for (std::size_t i = 0; i < v.ref_kinds.size(); ++i) {
        kinds += (i ? "|" : "") + v.ref_kinds[i];
        described += (i ? ", " : "") + v.ref_kinds[i];
      }
      return {{"type", "string"},
              {"pattern", "^(" + kinds + ")/[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"},
              {"description", "key kind/id of a live " + described}};
    }
    case value_kind::array: {
      json s = {{"type", "array"}, {"items", openapi_value_schema(*v.items)}, {"maxItems", max_array_items}};
      if (v.min_items > 0) s["minItems"] = v.min_items;
      return s;
    }
    case value_kind::object:
      return object_schema(v.members);
    case value_kind::tagged: {
      json one_of = json::array();
      for (const auto& variant : v.variants) one_of.push_back(object_schema(variant.members));
      return {{"oneOf", std::move(one_of)}};
    }
  }
  return json::object();
}

json openapi_body_schema(const kind_info& kind) {
  const kind_schema& schema = schema_of(kind);
  json s = object_schema(schema.body.members);
  if (!schema.body.time_order.empty()) s["description"] = "end, when given with start, must be after start";
  return s;
}

json openapi_resource_schema(const kind_info& kind) {
  json s = openapi_body_schema(kind);
  json& p = s["properties"];
  p["kind"] = {{"type", "string"}, {"enum", {std::string(kind.kind)}}, {"readOnly", true}};
  p["id"] = {{"type", "string"}, {"pattern", id_regex}, {"readOnly", true}};
  p["meta"] = {{"type", "object"},
               {"readOnly", true},
               {"properties",
                {{"created", {{"type", "string"}, {"description", "HLC of the creation"}}},
                 {"updated", {{"type", "string"}, {"description", "HLC of the newest visible change"}}},
                 {"seq", {{"type", "integer"}, {"format", "int64"}}}}}};
  json required = s.value("required", json::array());
  for (const char* name : {"kind", "id", "meta"}) required.push_back(name);
  s["required"] = std::move(required);
  return s;
}

}  // namespace horao::domain
