#pragma once
// Maintenance impact (API.md GET /v1/maintenances/{id}/impact and the dry
// run POST /v1/impact): the reservations and tenants that would no longer fit
// during a maintenance window.
//
// Definition: statuses are computed twice by the conflict rule (admission in
// creation order, scheduler.hpp), once without the maintenance and once with
// it; a reservation is impacted when it is accepted without it and conflicted
// with it. `short` is what it lacks with the maintenance, per dimension.
// Reservations already conflicted without the maintenance are not listed:
// the maintenance is not what stops them.
//
// Invariants: reservations are listed in id order, tenants are the distinct
// tenants of the listed reservations in id order; the report is a pure
// function of the replicated state and the window.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "horao/domain/amounts.hpp"

namespace horao::domain {

struct impacted_reservation {
  std::string id;
  std::string tenant;
  amounts short_by;
};

struct impact_report {
  std::vector<impacted_reservation> reservations;
  std::vector<std::string> tenants;

  // {"reservations": [{"id", "tenant", "short": {dimension: amount}}], "tenants": [ids]}
  nlohmann::json to_json() const;
};

}  // namespace horao::domain
