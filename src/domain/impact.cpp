// Maintenance impact (impact.hpp): the rule run with and without the window,
// from the first reservation it can affect.
#include "horao/domain/impact.hpp"

#include <algorithm>
#include <set>

#include "horao/domain/decision.hpp"
#include "horao/domain/scheduler.hpp"

namespace horao::domain {

nlohmann::json impact_report::to_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : reservations)
    list.push_back({{"id", r.id}, {"tenant", r.tenant}, {"short", short_json(r.short_by)}});
  return {{"reservations", std::move(list)}, {"tenants", tenants}};
}

std::optional<impact_report> scheduler::impact_of(std::string_view maintenance_id) {
  refresh();
  const maintenance_window* w = capacity_.maintenances().find(maintenance_id);
  if (w == nullptr) return std::nullopt;
  calendar_override without;
  without.excluded = maintenance_id;
  return simulate_impact(without, w->start, w->end, /*current_is_with=*/true);
}

impact_report scheduler::impact_of(const maintenance_window& window) {
  refresh();
  calendar_override with;
  with.extra = &window;
  with.extra_id = "(dry run)";  // not a valid id: cannot clash with a stored maintenance
  return simulate_impact(with, window.start, window.end, /*current_is_with=*/false);
}

std::vector<std::pair<std::string, reservation_status>> scheduler::snapshot_from(
    const order_key& from) const {
  std::vector<std::pair<std::string, reservation_status>> out;
  for (auto it = order_.lower_bound(from); it != order_.end(); ++it)
    out.emplace_back(it->first.id, it->second->status);
  return out;
}

impact_report scheduler::simulate_impact(const calendar_override& what_if, std::int64_t start,
                                         std::int64_t end, bool current_is_with) {
  // Decisions before the first reservation that meets the window see the
  // same capacity and the same earlier decisions either way.
  const order_key* first = nullptr;
  for (const auto& [key, e] : order_) {
    if (e->spec && e->start < end && e->end > start) {
      first = &key;
      break;
    }
  }
  if (first == nullptr) return {};
  const order_key from = *first;
  const auto current = snapshot_from(from);
  what_if_ = what_if;
  what_if_pieces_ = capacity_.maintenances().removal(capacity_.hardware(), time_min, time_max, what_if);
  mark_dirty(from);
  refresh();
  const auto other = snapshot_from(from);
  what_if_ = {};
  what_if_pieces_.clear();
  mark_dirty(from);  // the real statuses again, at the next read
  return current_is_with ? compare_impact(other, current) : compare_impact(current, other);
}

impact_report scheduler::compare_impact(
    const std::vector<std::pair<std::string, reservation_status>>& without,
    const std::vector<std::pair<std::string, reservation_status>>& with) const {
  impact_report report;
  std::set<std::string> tenants;
  for (std::size_t i = 0; i < without.size() && i < with.size(); ++i) {
    if (!without[i].second.accepted || with[i].second.accepted) continue;
    const entry& e = entries_.find(with[i].first)->second;
    report.reservations.push_back({with[i].first, e.spec->tenant, with[i].second.short_by});
    tenants.insert(e.spec->tenant);
  }
  std::sort(report.reservations.begin(), report.reservations.end(),
            [](const impacted_reservation& a, const impacted_reservation& b) { return a.id < b.id; });
  report.tenants.assign(tenants.begin(), tenants.end());
  return report;
}

}  // namespace horao::domain
