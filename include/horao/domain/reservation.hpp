#pragma once
// What a reservation asks for and what a tenant may hold (API.md
// "Resources": reservation `resources`, tenant `constraints`).
//
// Demand of a reservation, per dimension: compute items give cpu * amount
// cores, ram_gb * amount GB and, when accelerator is true, `amount`
// accelerators; storage items give capacity_tb to block_tb or object_tb by
// storage_type (block when absent). `maximal_resources` is not scheduled: it
// is an upper bound a tenant may note, not a claim.
//
// Invariants: the readers are total functions of untrusted input (a stored
// record may come from a faulty peer): they return nullopt for what cannot be
// a reservation (no tenant, no resources, bad or reversed times), never throw,
// and never produce a negative demand; each item's figure and each
// dimension's sum are clamped to request_cap, which still exceeds any
// capacity (amounts.hpp).

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "horao/crdt/record.hpp"
#include "horao/domain/amounts.hpp"

namespace horao::domain {

struct reservation_spec {
  std::string tenant;
  std::optional<std::int64_t> start;
  std::optional<std::int64_t> end;  // nullopt: open-ended
  bool hsn_only = false;
  amounts demand;

  // What the reservation holds in each pool: every reservation draws on the
  // total pool; an hsn_only one draws on the hsn pool too (it must fit both).
  pools claim() const { return {demand, hsn_only ? demand : amounts{}}; }
};

// From a validated, normalised body.
std::optional<reservation_spec> parse_reservation(const nlohmann::json& body);
// From the stored fields of a live reservation record.
std::optional<reservation_spec> read_reservation(const crdt::record& state);

// A tenant's constraints: an absent limit is no limit.
struct tenant_limits {
  std::array<std::optional<quantity>, dimension_count> limit{};

  const std::optional<quantity>& operator[](dimension d) const { return limit[static_cast<std::size_t>(d)]; }
  std::optional<quantity>& operator[](dimension d) { return limit[static_cast<std::size_t>(d)]; }
  bool any() const;
  friend bool operator==(const tenant_limits&, const tenant_limits&) = default;
};

// From a `constraints` object ({"cpu": 64, "block_tb": 10.5, ...}); members
// that are not non-negative numbers are no limit.
tenant_limits parse_constraints(const nlohmann::json& constraints);
// From the stored fields of a live tenant record.
tenant_limits read_constraints(const crdt::record& state);
// {"cpu": 64, ...} with only the limits that are set.
nlohmann::json to_json(const tenant_limits& limits);

}  // namespace horao::domain
