#pragma once
// What the router asks of the scheduler (API.md "Views" and "Scheduling"):
// decisions on reservation writes, the status reads show, and the capacity,
// usage and impact views. An interface, so the router is tested with the
// real scheduler (scheduler_service) or a fake, and the daemon wires it
// without the router owning the domain's indices.
//
// Invariants: called on the store's loop only, synchronously, never from a
// store subscriber; nothing here writes to the store (admit() decides, the
// router writes what it accepted); every answer but admit()'s choice of a
// start (which reads now_us()) is a function of the replicated state.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "horao/api/context.hpp"
#include "horao/api/errors.hpp"
#include "horao/api/tokens.hpp"
#include "horao/domain/amounts.hpp"
#include "horao/domain/capacity.hpp"
#include "horao/domain/impact.hpp"
#include "horao/domain/maintenance_calendar.hpp"
#include "horao/domain/usage.hpp"

namespace horao::api {

class scheduling {
 public:
  virtual ~scheduling() = default;

  // The verdict on writing reservation `id` with `body` (validated and
  // normalised): nullopt to accept, with `body` amended (`start` chosen, a
  // dynamic window's `end` shifted); otherwise the refusal (409 or 422).
  // `is_patch`: the write keeps the record's creation stamp. A refusal shown
  // to a tenant names no other tenant's reservation.
  virtual std::optional<api_error> admit(std::string_view id, nlohmann::json& body, bool is_patch,
                                         const principal& who) = 0;
  // The status of live reservation `id` ("accepted" when unknown).
  virtual reservation_status status_of(std::string_view id) = 0;

  // GET /v1/capacity: live, up hardware minus maintenance at `q.at`.
  virtual domain::amounts capacity(const domain::capacity_query& q) = 0;
  // GET /v1/tenants/{id}/usage.
  virtual domain::usage_report usage(std::string_view tenant, std::int64_t at) = 0;
  // GET /v1/maintenances/{id}/impact; nullopt when no live maintenance `id`
  // can be read as a window.
  virtual std::optional<domain::impact_report> impact_of(std::string_view maintenance_id) = 0;
  // POST /v1/impact: as if `window` were added.
  virtual domain::impact_report impact_of(const domain::maintenance_window& window) = 0;

  // The time a dynamic start is searched from, and `?at=`'s default.
  virtual std::int64_t now_us() const = 0;
};

// Points `ctx` at `s`: ctx.scheduler, and the admit_reservation and
// reservation_status_of hooks, so the three always agree.
void attach_scheduling(router_context& ctx, scheduling& s);

}  // namespace horao::api
