#pragma once
// The scheduler (DESIGN §6, API.md "Scheduling"): decisions on reservation
// writes, the status of every stored reservation, tenant usage and
// maintenance impact.
//
// The rule, one for decisions and for conflicts after merges:
//  * live reservations are taken in the order of their record's creation HLC
//    (then id, should a faulty peer ever send equal stamps) and admitted
//    greedily; a reservation is admitted when, over its window [start, end)
//    (no end: open-ended),
//      - for every dimension its tenant limits, the most the tenant's admitted
//        reservations hold at any instant of the window plus this demand is
//        within the limit (constraints bound what a tenant holds at once);
//      - for every instant and dimension it asks for, capacity minus what
//        maintenance removes then minus what admitted reservations hold then
//        is at least its demand, in the total pool, and for an hsn_only
//        reservation in the hsn pool too (hsn capacity is a subset of the
//        total; hsn_only reservations count in both pools, others only in
//        the total: with divisible capacity both pools fit exactly when
//        some placement of every admitted reservation exists).
//    Admitted reservations are `accepted`, the others `conflicted` with the
//    reason. Maintenance comes first: a window written later still takes its
//    capacity, and what no longer fits becomes conflicted (impact.hpp).
//  * statuses use no clock: every daemon holding the same records computes
//    the same statuses and reasons; capacity is today's hardware for every
//    window (no hardware history is kept).
//  * a decision is exactly the rule's verdict on the state after the write:
//    a new reservation and a PUT (whose new creation stamp moves it last)
//    must fit against every accepted reservation but its own old claim; a
//    PATCH keeps its place, so must fit without disturbing those after it.
//    When a PUT's old claim was keeping later reservations out, the decision
//    re-runs the rule without it first, so that the 201 it gets is the status
//    it then shows.
//  * without `start`: candidate starts are now, now + PLANNING_INTERVAL, ...,
//    up to now + PLANNING_WINDOW; the first one whose window fits is taken.
//    The window is open-ended without `end`; with `end` it keeps the length
//    end - now (end must then be after now), shifted with the start.
//
// Cost: statuses are kept, not recomputed per read. A new reservation is
// evaluated alone (O(log n)); removing or changing one re-runs the rule from
// its place only when a conflicted reservation comes after it; one merged in
// the middle of the order re-runs it from there. A change of capacity
// (hardware, networks, maintenance) or of limits is checked against the
// accepted claims in one sweep over maintenance pieces: while they all still
// fit, nothing before the first conflicted reservation can change, so the
// rule re-runs from there (not at all without conflicts); otherwise from the
// start. Work is deferred until the next read or decision, so a burst of
// merges costs one re-run. A full re-run is O(n log n) (docs/scheduler.md
// has the figures).
//
// Single-threaded like the store; subscribes in the constructor and
// unsubscribes in the destructor. Reads may re-run the rule, hence not const.
// The store does not notify on restore(): call rebuild() after recovery
// (after capacity_index::rebuild()).

#include <compare>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "horao/crdt/hlc.hpp"
#include "horao/domain/amounts.hpp"
#include "horao/domain/capacity.hpp"
#include "horao/domain/decision.hpp"
#include "horao/domain/impact.hpp"
#include "horao/domain/reservation.hpp"
#include "horao/domain/timeline.hpp"
#include "horao/domain/usage.hpp"
#include "horao/store/record_store.hpp"

namespace horao::domain {

struct scheduler_settings {
  std::int64_t planning_window_us = 30LL * 86'400'000'000LL;  // PLANNING_WINDOW (days)
  std::int64_t planning_interval_us = 3'600'000'000LL;        // PLANNING_INTERVAL (hours)

  static scheduler_settings from_config(std::int64_t window_days, std::int64_t interval_hours) {
    return {window_days * 86'400'000'000LL, interval_hours * 3'600'000'000LL};
  }
};

// How the write that follows an accepted decision stores the reservation.
enum class write_mode { put, patch };

class scheduler {
 public:
  scheduler(store::record_store& store, const capacity_index& capacity, scheduler_settings settings);
  ~scheduler();
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  // Forgets everything and reads the store's reservations and tenants again.
  void rebuild();

  // The verdict on writing reservation `id` with `body` (validated and
  // normalised) at `now_us`. Changes nothing: the caller writes body on
  // acceptance.
  decision decide(std::string_view id, const nlohmann::json& body, std::int64_t now_us,
                  write_mode mode = write_mode::put);

  // nullopt when there is no live reservation `id`.
  std::optional<reservation_status> status_of(std::string_view id);
  usage_report usage(std::string_view tenant, std::int64_t at);
  // nullopt when there is no live maintenance `id` (or it cannot be read).
  std::optional<impact_report> impact_of(std::string_view maintenance_id);
  // The dry run: as if `window` were added.
  impact_report impact_of(const maintenance_window& window);

  std::size_t reservation_count() const { return entries_.size(); }
  std::size_t conflicted_count();
  // How many times the rule was re-run from some point (metrics and tests).
  std::uint64_t reruns() const { return reruns_; }
  std::uint64_t evaluations() const { return evaluations_; }

 private:
  struct order_key {
    crdt::hlc created;
    std::string id;
    friend std::strong_ordering operator<=>(const order_key&, const order_key&) = default;
    friend bool operator==(const order_key&, const order_key&) = default;
  };
  struct entry {
    order_key key;
    std::optional<reservation_spec> spec;  // nullopt: unreadable, always conflicted
    std::int64_t start = 0;
    std::int64_t end = 0;  // time_max: open-ended
    bool admitted = false;
    std::size_t admitted_slot = 0;  // index in admitted_ while admitted
    reservation_status status;
  };
  // An admitted claim, contiguous for the scans that explain refusals.
  struct admitted_claim {
    std::int64_t start;
    std::int64_t end;
    entry* e;
  };
  // The outcome of fitting one claim into a window.
  struct fit {
    std::optional<constraint_breach> breach;
    std::vector<shortage> shortages;
    bool ok() const { return !breach && shortages.empty(); }
  };

  void on_change(const store::change& c);
  void on_reservation(std::string_view id, const crdt::record& state);
  void on_tenant(std::string_view id, const crdt::record& state);
  void mark_dirty(const order_key& from);
  void mark_all_dirty();
  // Brings statuses up to date with the state (the deferred work).
  void refresh();
  bool still_feasible() const;
  void admit(entry& e);
  void unadmit(entry& e);
  void set_status(entry& e, reservation_status s);
  void evaluate(entry& e);
  bool later_conflicts(const order_key& key) const;

  // Yes or no, stopping at the first reason: the hot path of the rule and of
  // the search for a start. check() then explains a refusal in full.
  enum class outcome { fits, over_limits, short_of_capacity };
  outcome fits(const reservation_spec& spec, std::int64_t start, std::int64_t end) const;
  std::optional<constraint_breach> breach_of(const reservation_spec& spec, std::int64_t start,
                                             std::int64_t end) const;
  fit check(const reservation_spec& spec, std::int64_t start, std::int64_t end) const;
  const std::vector<removal_piece>& pieces() const;
  pools capacity() const;
  const tenant_limits* limits_of(std::string_view tenant) const;
  decision decide_window(const reservation_spec& spec, std::int64_t start, std::int64_t end) const;
  decision search(const reservation_spec& spec, std::int64_t now_us) const;
  void explain(decision& d, std::int64_t start, std::int64_t end) const;
  std::vector<std::pair<std::string, reservation_status>> snapshot_from(const order_key& from) const;
  impact_report compare_impact(const std::vector<std::pair<std::string, reservation_status>>& without,
                               const std::vector<std::pair<std::string, reservation_status>>& with) const;
  impact_report simulate_impact(const calendar_override& what_if, std::int64_t start, std::int64_t end,
                                bool current_is_with);

  store::record_store& store_;
  const capacity_index& capacity_;
  scheduler_settings settings_;
  store::record_store::subscription subscription_ = 0;

  std::unordered_map<std::string, entry, store::string_hash, std::equal_to<>> entries_;
  std::map<order_key, entry*> order_;
  std::set<order_key> conflicted_;  // capacity or constraint conflicts, not unreadable records
  std::unordered_map<std::string, tenant_limits, store::string_hash, std::equal_to<>> limits_;
  std::unordered_map<std::string, std::set<std::string, std::less<>>, store::string_hash, std::equal_to<>>
      by_tenant_;         // tenant -> ids of its live reservations
  demand_timeline held_;  // admitted claims
  std::vector<admitted_claim> admitted_;
  // Admitted claims per tenant, kept only for tenants with limits (usage
  // sums a tenant's own entries instead).
  std::unordered_map<std::string, demand_timeline, store::string_hash, std::equal_to<>> tenant_held_;

  std::optional<order_key> dirty_from_;
  std::uint64_t seen_capacity_version_ = 0;
  std::set<std::string, std::less<>> limits_changed_;

  // What-if state, set only inside decide() and impact_of().
  std::string excluded_;
  calendar_override what_if_;
  std::vector<removal_piece> what_if_pieces_;

  std::uint64_t reruns_ = 0;
  std::uint64_t evaluations_ = 0;
};

}  // namespace horao::domain
