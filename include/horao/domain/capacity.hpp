#pragma once
// The capacity view (API.md GET /v1/capacity, DESIGN §6): the hardware tree
// and the maintenance calendar, kept from the store's changes.
//
// Invariants:
//  * after every store change, hardware() and maintenances() reflect the
//    store's live datacenters, cabinets, chassis, blades, nodes, servers,
//    disks, networks and maintenances exactly as rebuild() would compute
//    them from scratch (the store does not notify on restore(): call
//    rebuild() after recovery);
//  * capacity() costs O(1) without `at`, and the number of maintenances
//    active at `at` times the tree depth with it; never a scan of machines;
//  * version() increases whenever capacity at some instant may have changed
//    (hardware, networks or maintenances): the scheduler's cue to re-check.
// Single-threaded like the store; subscribes in the constructor and
// unsubscribes in the destructor, so it must not outlive the store.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "horao/domain/amounts.hpp"
#include "horao/domain/maintenance_calendar.hpp"
#include "horao/domain/topology.hpp"
#include "horao/store/record_store.hpp"

namespace horao::domain {

struct capacity_query {
  std::string_view datacenter;     // empty: every datacenter
  bool hsn_only = false;           // only machines on a high-speed data network
  std::optional<std::int64_t> at;  // minus hardware under maintenance then
};

class capacity_index {
 public:
  // Subscribes to `store` and indexes what it already holds.
  explicit capacity_index(store::record_store& store);
  ~capacity_index();
  capacity_index(const capacity_index&) = delete;
  capacity_index& operator=(const capacity_index&) = delete;

  // Forgets everything and reads the store's live records again.
  void rebuild();

  // GET /v1/capacity. A datacenter that is not alive has no capacity.
  amounts capacity(const capacity_query& q) const;
  // The least capacity left by maintenance at any instant of [from, to), per
  // dimension, of one pool (each dimension's minimum may fall at another
  // instant).
  amounts min_capacity(std::int64_t from, std::int64_t to, bool hsn_only) const;

  const topology& hardware() const { return hardware_; }
  const maintenance_calendar& maintenances() const { return calendar_; }
  std::uint64_t version() const { return hardware_.version() + calendar_.version(); }

 private:
  void on_change(std::string_view key, const crdt::record& state);

  store::record_store& store_;
  store::record_store::subscription subscription_ = 0;
  topology hardware_;
  maintenance_calendar calendar_;
};

// The API's JSON of a capacity: {"cpu", "ram_gb", "accelerators", "block_tb", "object_tb"}.
inline nlohmann::json capacity_json(const amounts& a) {
  return to_json(a);
}

}  // namespace horao::domain
