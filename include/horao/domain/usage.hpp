#pragma once
// A tenant's usage (API.md GET /v1/tenants/{id}/usage?at=): what its
// accepted reservations hold at an instant, next to its constraints.
//
// Invariants: `usage` is the sum of the demand of the tenant's accepted (not
// conflicted) reservations with start <= at < end (open end: no end); the
// constraints bound exactly this sum at every instant (scheduler.hpp), so
// usage <= limit for every limited dimension whenever the tenant has no
// conflicted reservation.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "horao/domain/amounts.hpp"
#include "horao/domain/reservation.hpp"

namespace horao::domain {

struct usage_report {
  std::string tenant;
  std::int64_t at = 0;
  amounts usage;
  tenant_limits constraints;
  std::vector<std::string> reservations;  // accepted and active at `at`, in id order

  // {"tenant", "at", "usage": {cpu, ram_gb, accelerators, block_tb, object_tb},
  //  "constraints": {only the limits set}, "reservations": [ids]}
  nlohmann::json to_json() const;
};

}  // namespace horao::domain
