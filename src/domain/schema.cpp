#include "horao/domain/schema.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <initializer_list>

#include "horao/crdt/hlc.hpp"

namespace horao::domain {
namespace {

using nlohmann::json;

// ---- value builders ---------------------------------------------------------

value_spec string_value() {
  return {.kind = value_kind::string};
}
value_spec non_empty_string() {
  return {.kind = value_kind::string, .min_length = 1};
}

value_spec integer_value(std::int64_t min, std::int64_t max = std::numeric_limits<std::int64_t>::max()) {
  return {.kind = value_kind::integer, .int_min = min, .int_max = max};
}

value_spec number_value(double min, bool exclusive) {
  return {.kind = value_kind::number, .number_min = min, .number_exclusive = exclusive};
}

value_spec boolean_value() {
  return {.kind = value_kind::boolean};
}

value_spec enum_value(std::vector<std::string> choices) {
  return {.kind = value_kind::enumeration, .choices = std::move(choices)};
}

value_spec time_value() {
  return {.kind = value_kind::time};
}

value_spec id_of(std::string kind) {
  return {.kind = value_kind::id_ref, .ref_kinds = {std::move(kind)}};
}

value_spec key_of(std::vector<std::string> kinds) {
  return {.kind = value_kind::key_ref, .ref_kinds = std::move(kinds)};
}

value_spec array_of(value_spec items, std::size_t min_items = 0) {
  return {.kind = value_kind::array,
          .items = std::make_shared<const value_spec>(std::move(items)),
          .min_items = min_items};
}

// Completes the members of one object for the canonical writer: each
// member's name interned (its id also gives the `"name":` the writer puts
// before the value), and the members' indexes by name (returned). The schemas
// are code, so a schema that breaks the invariants stops the program at its
// first use, in every test run.
std::vector<std::uint8_t> index_members(std::vector<field_spec>& members) {
  if (members.size() > max_object_members) std::abort();
  for (auto& m : members) {
    const auto id = crdt::field_names().intern(m.name);
    if (!id) std::abort();  // a schema name the table refuses: a bug, found at start
    m.name_id = *id;
  }
  std::vector<std::uint8_t> order(members.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::uint8_t>(i);
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return members[a].name < members[b].name; });
  if (std::adjacent_find(order.begin(), order.end(),
                         [&](auto a, auto b) { return members[a].name == members[b].name; }) != order.end())
    std::abort();
  return order;
}

value_spec object_of(std::vector<field_spec> members) {
  auto order = index_members(members);
  return {.kind = value_kind::object, .members = std::move(members), .members_by_name = std::move(order)};
}

value_spec tagged_by(std::string tag, std::vector<variant_spec> variants) {
  for (auto& v : variants) v.members_by_name = index_members(v.members);
  return {.kind = value_kind::tagged, .tag = std::move(tag), .variants = std::move(variants)};
}

// ---- field builders ---------------------------------------------------------

field_spec optional(std::string name, value_spec value) {
  return {.name = std::move(name), .value = std::move(value)};
}

// A required string must also be non-empty: "" names nothing.
field_spec required(std::string name, value_spec value) {
  if (value.kind == value_kind::string) value.min_length = std::max<std::size_t>(value.min_length, 1);
  return {.name = std::move(name), .value = std::move(value), .required = true};
}

field_spec defaulted(std::string name, value_spec value, json default_value) {
  std::string text = default_value.dump();
  return {.name = std::move(name),
          .value = std::move(value),
          .default_value = std::move(default_value),
          .default_text = std::move(text)};
}

field_spec read_only(std::string name, value_spec value) {
  return {.name = std::move(name), .value = std::move(value), .read_only = true};
}

std::vector<field_spec> concat(std::initializer_list<std::vector<field_spec>> groups) {
  std::vector<field_spec> all;
  for (const auto& g : groups) all.insert(all.end(), g.begin(), g.end());
  return all;
}

// ---- shared field groups (API.md "device fields", "machine fields") -------

std::vector<field_spec> inventory_fields() {
  return {optional("serial_number", string_value()), optional("model", string_value())};
}

field_spec up_down_status() {
  return defaulted("status", enum_value({"up", "down"}), "up");
}

std::vector<field_spec> device_fields() {
  return concat({inventory_fields(), {up_down_status()}});
}

std::vector<field_spec> machine_fields() {
  return concat({device_fields(),
                 {
                     optional("cpus", array_of(object_of({
                                          required("cores", integer_value(1)),
                                          optional("model", string_value()),
                                          optional("clock_ghz", number_value(0, false)),
                                      }))),
                     optional("ram", array_of(object_of({required("size_gb", integer_value(1))}))),
                     optional("accelerators", array_of(object_of({required("model", string_value())}))),
                     optional("networks", array_of(id_of("network"))),
                 }});
}

field_spec ports_field() {
  return optional("ports", array_of(object_of({
                               required("name", string_value()),
                               optional("speed_gbps", number_value(0, false)),
                               up_down_status(),
                           })));
}

field_spec position_field() {
  return required("position", integer_value(1));
}

// Reservation resources: per-unit compute times `amount`, or storage.
value_spec resource_item() {
  return tagged_by("type", {
                               {"compute",
                                {
                                    required("type", enum_value({"compute"})),
                                    required("cpu", integer_value(1)),
                                    required("ram_gb", integer_value(0)),
                                    defaulted("accelerator", boolean_value(), false),
                                    defaulted("amount", integer_value(1), 1),
                                }},
                               {"storage",
                                {
                                    required("type", enum_value({"storage"})),
                                    required("capacity_tb", number_value(0, true)),
                                    defaulted("storage_type", enum_value({"block", "object"}), "block"),
                                    optional("storage_class", enum_value({"hot", "warm", "cold"})),
                                }},
                           });
}

value_spec machine_key() {
  return key_of({"server", "node"});
}

// ---- the kinds --------------------------------------------------------------

std::vector<field_spec> members_of(std::string_view kind) {
  if (kind == "datacenter")
    return {required("name", string_value()), required("number", integer_value(0)),
            optional("location", string_value())};
  if (kind == "cabinet")
    return concat(
        {{required("datacenter", id_of("datacenter")), required("row", integer_value(1)), position_field()},
         inventory_fields()});
  if (kind == "chassis")
    return concat({{required("cabinet", id_of("cabinet")), position_field()}, inventory_fields()});
  if (kind == "blade")
    return concat({{required("chassis", id_of("chassis")), position_field()}, device_fields()});
  if (kind == "node") return concat({{required("blade", id_of("blade"))}, machine_fields()});
  if (kind == "server") return concat({{required("cabinet", id_of("cabinet"))}, machine_fields()});
  if (kind == "switch")
    return concat({{required("cabinet", id_of("cabinet")),
                    optional("switch_type", enum_value({"access", "distribution", "core"})),
                    optional("layer", integer_value(2, 3)), ports_field()},
                   device_fields()});
  if (kind == "router")
    return concat({{required("cabinet", id_of("cabinet")),
                    optional("router_type", enum_value({"core", "edge"})), ports_field()},
                   device_fields()});
  if (kind == "firewall")
    return concat({{required("cabinet", id_of("cabinet")), ports_field()}, device_fields()});
  if (kind == "disk")
    return concat({{required("machine", machine_key()), required("capacity_tb", number_value(0, true)),
                    defaulted("storage_type", enum_value({"block", "object"}), "block")},
                   device_fields()});
  if (kind == "network")
    return {required("datacenter", id_of("datacenter")),
            required("network_type", enum_value({"management", "control", "data"})),
            defaulted("hsn", boolean_value(), false), optional("topology", string_value())};
  if (kind == "vm")
    return {required("host", machine_key()),
            required("cpu", integer_value(1)),
            required("ram_gb", integer_value(1)),
            optional("name", string_value()),
            optional("tenant", id_of("tenant")),
            optional("reservation", id_of("reservation")),
            optional("image", string_value()),
            defaulted("status", enum_value({"running", "stopped"}), "running")};
  if (kind == "tenant")
    return {required("owner", string_value()), optional("delegates", array_of(non_empty_string())),
            optional("constraints", object_of({
                                        optional("cpu", integer_value(0)),
                                        optional("ram_gb", integer_value(0)),
                                        optional("accelerators", integer_value(0)),
                                        optional("block_tb", number_value(0, false)),
                                        optional("object_tb", number_value(0, false)),
                                    }))};
  if (kind == "reservation")
    return {required("tenant", id_of("tenant")),
            required("resources", array_of(resource_item(), 1)),
            optional("start", time_value()),
            optional("end", time_value()),
            optional("maximal_resources", array_of(resource_item())),
            defaulted("hsn_only", boolean_value(), false),
            read_only("status", enum_value({"accepted", "conflicted"})),
            read_only("conflict", string_value())};
  if (kind == "maintenance")
    return {
        required("start", time_value()), required("end", time_value()), required("reason", string_value()),
        required(
            "targets",
            array_of(key_of({"datacenter", "cabinet", "chassis", "blade", "node", "server", "disk"}), 1))};
  return {};
}

kind_schema build(const kind_info& kind) {
  kind_schema s{.kind = &kind, .body = object_of(members_of(kind.kind))};
  if (kind.kind == "reservation" || kind.kind == "maintenance") s.body.time_order = {{"start", "end"}};
  return s;
}

const std::vector<kind_schema>& schemas() {
  static const std::vector<kind_schema> table = [] {
    std::vector<kind_schema> t;
    for (const auto& k : all_kinds()) t.push_back(build(k));
    return t;
  }();
  return table;
}

}  // namespace

const field_spec* kind_schema::find(std::string_view name) const {
  for (const auto& f : body.members)
    if (f.name == name) return &f;
  return nullptr;
}

const kind_schema& schema_of(const kind_info& kind) {
  const auto kinds = all_kinds();
  const auto& table = schemas();
  for (std::size_t i = 0; i < kinds.size(); ++i)
    if (kinds[i].kind == kind.kind) return table[i];
  // Only kinds of all_kinds() exist; an object with no members refuses every field.
  static const kind_schema none{.kind = nullptr, .body = object_of({})};
  return none;
}

std::string_view json_type_name(const value_spec& v) {
  switch (v.kind) {
    case value_kind::integer:
      return "integer";
    case value_kind::number:
      return "number";
    case value_kind::boolean:
      return "boolean";
    case value_kind::array:
      return "array";
    case value_kind::object:
    case value_kind::tagged:
      return "object";
    default:
      return "string";
  }
}

bool is_scalar(const value_spec& v) {
  return v.kind != value_kind::array && v.kind != value_kind::object && v.kind != value_kind::tagged;
}

std::string canonical_time(std::int64_t unix_us) {
  std::string text = crdt::format_time_us(unix_us);
  // "....ss.000000Z" -> "....ssZ": what clients usually send comes back unchanged.
  constexpr std::string_view zero_fraction = ".000000Z";
  if (text.size() > zero_fraction.size() && text.ends_with(zero_fraction))
    text.replace(text.size() - zero_fraction.size(), zero_fraction.size(), "Z");
  return text;
}

std::optional<json> filter_value(const field_spec& field, std::string_view text) {
  const value_spec& v = field.value;
  if (!is_scalar(v) || text.size() > max_string_bytes) return std::nullopt;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  switch (v.kind) {
    case value_kind::string:
      return json(std::string(text));
    case value_kind::enumeration:
      if (std::find(v.choices.begin(), v.choices.end(), text) == v.choices.end()) return std::nullopt;
      return json(std::string(text));
    case value_kind::id_ref:
      if (!valid_id(text)) return std::nullopt;
      return json(std::string(text));
    case value_kind::key_ref: {
      const auto key = parse_key(text);
      if (!key || std::find(v.ref_kinds.begin(), v.ref_kinds.end(), key->kind->kind) == v.ref_kinds.end())
        return std::nullopt;
      return json(std::string(text));
    }
    case value_kind::time: {
      const auto us = crdt::parse_time_us(text);
      if (!us) return std::nullopt;
      return json(canonical_time(*us));
    }
    case value_kind::boolean:
      if (text == "true") return json(true);
      if (text == "false") return json(false);
      return std::nullopt;
    case value_kind::integer: {
      std::int64_t n = 0;
      const auto [end, ec] = std::from_chars(first, last, n);
      if (ec != std::errc{} || end != last || text.empty()) return std::nullopt;
      return json(n);
    }
    case value_kind::number: {
      double d = 0;
      const auto [end, ec] = std::from_chars(first, last, d);
      if (ec != std::errc{} || end != last || text.empty() || !std::isfinite(d)) return std::nullopt;
      // 4 matches a stored 4 and 4.0 alike: nlohmann compares numbers by value.
      return json(d);
    }
    default:
      return std::nullopt;
  }
}

}  // namespace horao::domain
