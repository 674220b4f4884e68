#pragma once
// What the router needs from the daemon: the store and its indices, how
// writes become durable, metrics, configuration, tokens, and the hooks other
// modules (scheduler, replication) fill in. The defaults make a working
// single-node daemon, so tests set only what they exercise.
//
// Invariants: everything referenced outlives the router; the hooks are
// called on the store's loop, synchronously, and must not call back into the
// router; `tokens` is null exactly when the API is open (no API_TOKENS_FILE).

#include <cstddef>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "horao/api/errors.hpp"
#include "horao/api/tokens.hpp"
#include "horao/app/config.hpp"
#include "horao/app/metrics.hpp"
#include "horao/domain/relations.hpp"
#include "horao/store/durability.hpp"
#include "horao/store/record_store.hpp"

namespace horao::api {

// The status a reservation shows on reads (API.md "Scheduling"): computed
// from replicated state by the scheduler, never stored.
struct reservation_status {
  std::string status = "accepted";  // or "conflicted"
  std::string conflict;             // the reason, when conflicted
};

class scheduling;  // scheduling.hpp: capacity, usage and impact for the scheduling routes

// Records scanned per listing, changes or tree request at most: a filter that
// matches nothing costs a bounded amount per call, and `next` continues.
inline constexpr std::size_t default_max_scan = 100'000;

struct router_context {
  store::record_store& store;
  store::durability& durability;
  app::metric_registry& metrics;
  const app::config& config;
  const domain::relation_index& relations;

  // Null: the API is open (every request is admin). Otherwise every /v1/
  // request needs a bearer token listed here.
  std::shared_ptr<const token_table> tokens;

  // Whether recovery has finished; fills `reason` when not.
  std::function<bool(std::string* reason)> loaded = [](std::string*) { return true; };

  // The scheduler's say on a reservation write, called with the validated,
  // normalised body before anything is written: refuse (409
  // insufficient_capacity / constraint_exceeded, ...) or amend the body (set
  // `start`). `is_patch`: the write keeps the record's creation stamp (PATCH)
  // rather than giving it a new one (PUT), which decides its place in the
  // conflict order. `who` sent it (a refusal must not show a tenant other
  // tenants' reservations). The default accepts as is.
  std::function<std::optional<api_error>(std::string_view id, nlohmann::json& body, bool is_patch,
                                         const principal& who)>
      admit_reservation = [](std::string_view, nlohmann::json&, bool, const principal&) {
        return std::optional<api_error>();
      };
  // The status shown on reads of a live reservation; default "accepted".
  std::function<reservation_status(std::string_view id, const crdt::record& state)> reservation_status_of =
      [](std::string_view, const crdt::record&) { return reservation_status{}; };
  // GET /v1/capacity, /v1/tenants/{id}/usage, /v1/maintenances/{id}/impact and
  // POST /v1/impact; null: those routes answer 503 (no scheduler wired).
  // attach_scheduling() sets this and the two hooks above together.
  scheduling* scheduler = nullptr;

  // GET /v1/cluster "peers": the replication layer's per-peer state, a JSON
  // array of {"url","node","connected","pending","acked_seq","last_push","last_error"}.
  std::function<nlohmann::json()> peers = [] { return nlohmann::json::array(); };
  // POST /v1/cluster/sync: push to every peer now.
  std::function<void()> sync_now = [] {};

  std::size_t max_scan = default_max_scan;
};

}  // namespace horao::api
