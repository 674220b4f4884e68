#pragma once
// What the capacity index reads from the stored fields of hardware records
// (API.md "Resources": datacenter, cabinet, chassis, blade, node, server,
// disk, and network for the high-speed flag).
//
// Invariants: the readers are total functions of untrusted field text: a
// field that is missing, not JSON, or of the wrong type reads as "nothing"
// (no parent, no capacity, no network), never throws, and never produces a
// negative quantity. A record's parent key always names the parent kind its
// schema allows (server -> cabinet, node -> blade, blade -> chassis,
// chassis -> cabinet, cabinet -> datacenter, disk -> server|node); anything
// else reads as no parent, so the hardware tree has no cycle.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "horao/crdt/record.hpp"
#include "horao/domain/amounts.hpp"

namespace horao::domain {

struct hardware_facts {
  std::string parent;                 // parent key ("cabinet/c1"); empty: none or unusable
  bool up = true;                     // `status` is not "down" (absent = "up", the default)
  amounts own;                        // machines: cores, RAM, accelerators; disks: storage
  std::vector<std::string> networks;  // machines: ids of attached networks
};

// datacenter, cabinet, chassis, blade, node, server, disk.
bool is_hardware_kind(std::string_view kind);
bool is_machine_kind(std::string_view kind);

// The facts of a live record of a hardware kind.
hardware_facts read_hardware(std::string_view kind, const crdt::record& state);

// A network counts for hsn_only when network_type is "data" and hsn is true.
bool read_hsn_data_network(const crdt::record& state);

// The visible value of a field parsed as JSON; discarded (is_discarded())
// when absent or not JSON.
nlohmann::json read_field(const crdt::record& state, std::string_view name);
// A string field's text without building a JSON value when it has no escape
// (ids, enums: the common case); nullopt when absent or not a string.
std::optional<std::string> read_string_field(const crdt::record& state, std::string_view name);

}  // namespace horao::domain
