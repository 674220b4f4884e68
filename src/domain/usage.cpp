// Tenant usage (usage.hpp): read from the tenant's demand timeline.
#include "horao/domain/usage.hpp"

#include "horao/domain/scheduler.hpp"
#include "horao/domain/schema.hpp"

namespace horao::domain {

nlohmann::json usage_report::to_json() const {
  return {{"tenant", tenant},
          {"at", canonical_time(at)},
          {"usage", domain::to_json(usage)},
          {"constraints", domain::to_json(constraints)},
          {"reservations", reservations}};
}

usage_report scheduler::usage(std::string_view tenant, std::int64_t at) {
  refresh();
  usage_report r;
  r.tenant = std::string(tenant);
  r.at = at;
  if (const tenant_limits* limits = limits_of(tenant)) r.constraints = *limits;
  // The tenant's own entries: as many as it has, not a scan of everyone's.
  if (auto ids = by_tenant_.find(tenant); ids != by_tenant_.end()) {
    for (const auto& id : ids->second) {
      const entry& e = entries_.find(id)->second;
      if (!e.admitted || at < e.start || at >= e.end) continue;
      r.usage += e.spec->demand;
      r.reservations.push_back(id);
    }
  }
  return r;
}

}  // namespace horao::domain
