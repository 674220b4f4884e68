#include "horao/domain/hardware.hpp"

#include "horao/domain/kinds.hpp"

namespace horao::domain {
namespace {

using nlohmann::json;

// "kind/<id>" when the field holds a valid id; empty otherwise.
std::string parent_by_id(const crdt::record& state, std::string_view field, std::string_view parent_kind) {
  const auto id = read_string_field(state, field);
  if (!id || !valid_id(*id)) return {};
  return make_key(parent_kind, *id);
}

// A disk's `machine` is a key; only server and node keys are machines.
std::string machine_parent(const crdt::record& state) {
  auto text = read_string_field(state, "machine");
  if (!text) return {};
  const auto key = parse_key(*text);
  if (!key || !is_machine_kind(key->kind->kind)) return {};
  return std::move(*text);
}

// Sum of `member` over the objects of array field `field`, each item clamped.
quantity sum_of(const crdt::record& state, std::string_view field, std::string_view member) {
  const json v = read_field(state, field);
  if (!v.is_array()) return 0;
  quantity sum = 0;
  for (const auto& item : v) {
    if (!item.is_object()) continue;
    const auto it = item.find(member);
    if (it != item.end()) sum += clamp_to(json_count(*it), record_cap);
  }
  return clamp_to(sum, record_cap);
}

quantity count_of(const crdt::record& state, std::string_view field) {
  const json v = read_field(state, field);
  return v.is_array() ? static_cast<quantity>(v.size()) : 0;
}

bool read_up(const crdt::record& state) {
  return read_string_field(state, "status") != "down";
}

}  // namespace

json read_field(const crdt::record& state, std::string_view name) {
  const crdt::field_entry* f = state.find(name);
  if (!f || f->absent()) return json(json::value_t::discarded);
  return json::parse(f->value, nullptr, false);
}

std::optional<std::string> read_string_field(const crdt::record& state, std::string_view name) {
  const crdt::field_entry* f = state.find(name);
  if (!f || f->absent()) return std::nullopt;
  const std::string_view text = f->value;
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"' &&
      text.substr(1, text.size() - 2).find_first_of("\\\"") == std::string_view::npos)
    return std::string(text.substr(1, text.size() - 2));
  const json v = json::parse(text, nullptr, false);
  if (!v.is_string()) return std::nullopt;
  return v.get<std::string>();
}

bool is_hardware_kind(std::string_view kind) {
  return kind == "datacenter" || kind == "cabinet" || kind == "chassis" || kind == "blade" ||
         is_machine_kind(kind) || kind == "disk";
}

bool is_machine_kind(std::string_view kind) {
  return kind == "server" || kind == "node";
}

hardware_facts read_hardware(std::string_view kind, const crdt::record& state) {
  hardware_facts facts;
  if (kind == "datacenter") return facts;
  if (kind == "cabinet") {
    facts.parent = parent_by_id(state, "datacenter", "datacenter");
  } else if (kind == "chassis") {
    facts.parent = parent_by_id(state, "cabinet", "cabinet");
  } else if (kind == "blade") {
    facts.parent = parent_by_id(state, "chassis", "chassis");
    facts.up = read_up(state);
  } else if (is_machine_kind(kind)) {
    facts.parent =
        kind == "server" ? parent_by_id(state, "cabinet", "cabinet") : parent_by_id(state, "blade", "blade");
    facts.up = read_up(state);
    facts.own[dimension::cpu] = sum_of(state, "cpus", "cores");
    facts.own[dimension::ram_gb] = sum_of(state, "ram", "size_gb");
    facts.own[dimension::accelerators] = count_of(state, "accelerators");
    const json networks = read_field(state, "networks");
    if (networks.is_array()) {
      for (const auto& n : networks)
        if (n.is_string() && valid_id(n.get_ref<const std::string&>()))
          facts.networks.push_back(n.get<std::string>());
    }
  } else if (kind == "disk") {
    facts.parent = machine_parent(state);
    facts.up = read_up(state);
    const bool object = read_string_field(state, "storage_type") == "object";
    facts.own[object ? dimension::object_tb : dimension::block_tb] =
        json_tb_units(read_field(state, "capacity_tb"), record_cap);
  }
  return facts;
}

bool read_hsn_data_network(const crdt::record& state) {
  const crdt::field_entry* hsn = state.find("hsn");
  return read_string_field(state, "network_type") == "data" && hsn != nullptr && hsn->value == "true";
}

}  // namespace horao::domain
