// The schema table as the router and /openapi.json see it: fields, types,
// scalars, listing filters and the generated OpenAPI schemas.

#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <set>
#include <string>

#include "horao/domain/json_schema.hpp"
#include "horao/domain/schema.hpp"

using namespace horao::domain;
using nlohmann::json;

namespace {

const kind_schema& schema(std::string_view kind) {
  const kind_info* k = find_kind(kind);
  REQUIRE(k);
  return schema_of(*k);
}

std::set<std::string> field_names(std::string_view kind) {
  std::set<std::string> names;
  for (const auto& f : schema(kind).fields()) names.insert(f.name);
  return names;
}

}  // namespace

TEST_CASE("every kind has its API.md fields, and device/machine groups are shared") {
  using names = std::set<std::string>;
  CHECK(field_names("datacenter") == names{"name", "number", "location"});
  CHECK(field_names("cabinet") == names{"datacenter", "row", "position", "serial_number", "model"});
  CHECK(field_names("chassis") == names{"cabinet", "position", "serial_number", "model"});
  CHECK(field_names("blade") == names{"chassis", "position", "serial_number", "model", "status"});
  const names machine{"serial_number", "model", "status", "cpus", "ram", "accelerators", "networks"};
  auto with = [](names base, std::initializer_list<const char*> more) {
    for (const char* m : more) base.insert(m);
    return base;
  };
  CHECK(field_names("node") == with(machine, {"blade"}));
  CHECK(field_names("server") == with(machine, {"cabinet"}));
  const names device{"serial_number", "model", "status"};
  CHECK(field_names("switch") == with(device, {"cabinet", "switch_type", "layer", "ports"}));
  CHECK(field_names("router") == with(device, {"cabinet", "router_type", "ports"}));
  CHECK(field_names("firewall") == with(device, {"cabinet", "ports"}));
  CHECK(field_names("disk") == with(device, {"machine", "capacity_tb", "storage_type"}));
  CHECK(field_names("network") == names{"datacenter", "network_type", "hsn", "topology"});
  CHECK(field_names("vm") ==
        names{"host", "cpu", "ram_gb", "name", "tenant", "reservation", "image", "status"});
  CHECK(field_names("tenant") == names{"owner", "delegates", "constraints"});
  CHECK(field_names("reservation") ==
        names{"tenant", "resources", "start", "end", "maximal_resources", "hsn_only", "status", "conflict"});
  CHECK(field_names("maintenance") == names{"start", "end", "reason", "targets"});
}

TEST_CASE("field types, required and scalar flags are exposed for the router") {
  const auto& server = schema("server");
  const field_spec* cabinet = server.find("cabinet");
  REQUIRE(cabinet);
  CHECK(cabinet->required);
  CHECK(json_type_name(cabinet->value) == "string");
  CHECK(is_scalar(cabinet->value));
  const field_spec* cpus = server.find("cpus");
  REQUIRE(cpus);
  CHECK_FALSE(cpus->required);
  CHECK(json_type_name(cpus->value) == "array");
  CHECK_FALSE(is_scalar(cpus->value));
  CHECK(server.find("nope") == nullptr);

  CHECK(json_type_name(schema("datacenter").find("number")->value) == "integer");
  CHECK(json_type_name(schema("disk").find("capacity_tb")->value) == "number");
  CHECK(json_type_name(schema("network").find("hsn")->value) == "boolean");
  CHECK(json_type_name(schema("tenant").find("constraints")->value) == "object");
  CHECK_FALSE(is_scalar(schema("tenant").find("constraints")->value));
  CHECK(schema("reservation").find("status")->read_only);

  // Every kind names at least one required field, and the flag matches API.md's table.
  std::set<std::string> required;
  for (const auto& f : schema("vm").fields())
    if (f.required) required.insert(f.name);
  CHECK(required == std::set<std::string>{"host", "cpu", "ram_gb"});
}

TEST_CASE("listing filters are parsed by the field's type") {
  const auto& s = schema("server");
  CHECK(filter_value(*s.find("status"), "down") == json("down"));
  CHECK_FALSE(filter_value(*s.find("status"), "sideways"));
  CHECK(filter_value(*s.find("cabinet"), "cab-r1-03") == json("cab-r1-03"));
  CHECK_FALSE(filter_value(*s.find("cabinet"), "not an id"));
  CHECK_FALSE(filter_value(*s.find("cpus"), "4"));  // not scalar

  const auto& dc = schema("datacenter");
  CHECK(filter_value(*dc.find("number"), "12") == json(12));
  CHECK_FALSE(filter_value(*dc.find("number"), "1.5"));
  CHECK_FALSE(filter_value(*dc.find("number"), "99999999999999999999"));
  CHECK_FALSE(filter_value(*dc.find("number"), ""));

  CHECK(filter_value(*schema("disk").find("capacity_tb"), "4") == json(4));  // equal to a stored 4 or 4.0
  CHECK_FALSE(filter_value(*schema("disk").find("capacity_tb"), "inf"));
  CHECK_FALSE(filter_value(*schema("disk").find("machine"), "switch/sw1"));
  CHECK(filter_value(*schema("network").find("hsn"), "true") == json(true));
  CHECK_FALSE(filter_value(*schema("network").find("hsn"), "1"));
  CHECK(filter_value(*schema("maintenance").find("start"), "2026-12-01T09:00:00+01:00") ==
        json("2026-12-01T08:00:00Z"));
}

TEST_CASE("canonical time text") {
  CHECK(canonical_time(0) == "1970-01-01T00:00:00Z");
  CHECK(canonical_time(1'500'000) == "1970-01-01T00:00:01.500000Z");
}

TEST_CASE("OpenAPI schemas are generated from the same table") {
  for (const auto& k : all_kinds()) {
    INFO(k.kind);
    const json body = openapi_body_schema(k);
    CHECK(body["type"] == "object");
    CHECK(body["additionalProperties"] == false);
    std::set<std::string> properties, required;
    for (const auto& [name, _] : body["properties"].items()) properties.insert(name);
    for (const auto& r : body.value("required", json::array())) required.insert(r.get<std::string>());
    std::set<std::string> expected_required;
    for (const auto& f : schema_of(k).fields())
      if (f.required) expected_required.insert(f.name);
    CHECK(properties == field_names(k.kind));
    CHECK(required == expected_required);

    const json resource = openapi_resource_schema(k);
    CHECK(resource["properties"].contains("meta"));
    CHECK(resource["properties"]["kind"]["enum"] == json::array({std::string(k.kind)}));
  }
  const json disk = openapi_body_schema(*find_kind("disk"));
  CHECK(disk["properties"]["capacity_tb"]["minimum"] == 0);
  CHECK(disk["properties"]["capacity_tb"]["exclusiveMinimum"] == true);
  CHECK(disk["properties"]["storage_type"]["default"] == "block");
  CHECK(disk["properties"]["machine"]["pattern"] == "^(server|node)/[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");

  const json sw = openapi_body_schema(*find_kind("switch"));
  CHECK(sw["properties"]["layer"]["minimum"] == 2);
  CHECK(sw["properties"]["layer"]["maximum"] == 3);
  CHECK(sw["properties"]["ports"]["items"]["required"] == json::array({"name"}));
  CHECK(sw["properties"]["ports"]["items"]["additionalProperties"] == false);

  const json reservation = openapi_body_schema(*find_kind("reservation"));
  CHECK(reservation["properties"]["status"]["readOnly"] == true);
  CHECK(reservation["properties"]["resources"]["minItems"] == 1);
  CHECK(reservation["properties"]["resources"]["items"]["oneOf"].size() == 2);
  CHECK(reservation["properties"]["start"]["format"] == "date-time");
}

TEST_CASE("the schema table is self-consistent") {
  // Walks every object of every kind: names unique, references name known kinds.
  std::function<void(const value_spec&)> walk = [&](const value_spec& v) {
    auto members = [&](const std::vector<field_spec>& fields) {
      std::set<std::string> seen;
      for (const auto& f : fields) {
        INFO(f.name);
        CHECK(seen.insert(f.name).second);
        CHECK_FALSE((f.required && f.default_value));  // a default on a required field is dead data
        walk(f.value);
      }
    };
    switch (v.kind) {
      case value_kind::id_ref:
        CHECK(v.ref_kinds.size() == 1);
        [[fallthrough]];
      case value_kind::key_ref:
        CHECK_FALSE(v.ref_kinds.empty());
        for (const auto& k : v.ref_kinds) CHECK(find_kind(k));
        break;
      case value_kind::array:
        REQUIRE(v.items);
        walk(*v.items);
        break;
      case value_kind::object:
        members(v.members);
        break;
      case value_kind::tagged:
        for (const auto& variant : v.variants) {
          members(variant.members);
          const auto tag = std::find_if(variant.members.begin(), variant.members.end(),
                                        [&](const field_spec& f) { return f.name == v.tag; });
          REQUIRE(tag != variant.members.end());
          CHECK(tag->value.choices == std::vector<std::string>{variant.tag_value});
        }
        break;
      default:
        break;
    }
  };
  for (const auto& k : all_kinds()) {
    INFO(k.kind);
    const kind_schema& s = schema_of(k);
    CHECK(s.kind == &k);
    CHECK(s.body.kind == value_kind::object);
    walk(s.body);
  }
}
