#include "horao/domain/maintenance_calendar.hpp"

#include <algorithm>
#include <set>
#include <unordered_set>

#include "horao/crdt/hlc.hpp"
#include "horao/domain/hardware.hpp"
#include "horao/domain/kinds.hpp"

namespace horao::domain {
namespace {

using nlohmann::json;

std::optional<std::int64_t> time_of(const json& v) {
  if (!v.is_string()) return std::nullopt;
  return crdt::parse_time_us(v.get_ref<const std::string&>());
}

std::optional<maintenance_window> window_of(const json& start, const json& end, const json& targets) {
  const auto s = time_of(start);
  const auto e = time_of(end);
  if (!s || !e || *s >= *e || !targets.is_array()) return std::nullopt;
  maintenance_window w{*s, *e, {}};
  for (const auto& t : targets) {
    if (!t.is_string()) continue;
    const auto key = parse_key(t.get_ref<const std::string&>());
    if (key && is_hardware_kind(key->kind->kind)) w.targets.push_back(t.get<std::string>());
  }
  if (w.targets.empty()) return std::nullopt;
  return w;
}

const json& member(const json& body, const char* name) {
  static const json null_value;
  const auto it = body.find(name);
  return it == body.end() ? null_value : *it;
}

}  // namespace

std::optional<maintenance_window> parse_maintenance(const json& body) {
  if (!body.is_object()) return std::nullopt;
  return window_of(member(body, "start"), member(body, "end"), member(body, "targets"));
}

std::optional<maintenance_window> read_maintenance(const crdt::record& state) {
  return window_of(read_field(state, "start"), read_field(state, "end"), read_field(state, "targets"));
}

pools union_inside(const topology& hw, const std::vector<const std::string*>& targets,
                   const topology::node* datacenter) {
  std::unordered_set<std::string_view> named;
  named.reserve(targets.size());
  for (const std::string* t : targets) named.insert(*t);
  pools sum;
  for (std::string_view key : named) {
    const topology::node* n = hw.find(key);
    if (n == nullptr) continue;  // nothing there (yet): removes nothing
    if (datacenter != nullptr && n->datacenter != datacenter) continue;
    bool covered = false;
    for (const topology::node* p = n->parent; p != nullptr && !covered; p = p->parent)
      covered = named.contains(p->key);
    if (!covered) sum += n->inside();
  }
  return sum;
}

void maintenance_calendar::put(std::string_view id, maintenance_window w) {
  ++version_;
  auto it = windows_.find(id);
  if (it == windows_.end())
    windows_.emplace(std::string(id), std::move(w));
  else
    it->second = std::move(w);
}

void maintenance_calendar::remove(std::string_view id) {
  auto it = windows_.find(id);
  if (it == windows_.end()) return;
  ++version_;
  windows_.erase(it);
}

void maintenance_calendar::clear() {
  ++version_;
  windows_.clear();
}

const maintenance_window* maintenance_calendar::find(std::string_view id) const {
  auto it = windows_.find(id);
  return it == windows_.end() ? nullptr : &it->second;
}

std::vector<removal_piece> maintenance_calendar::compute(const topology& hw, std::int64_t from,
                                                         std::int64_t to,
                                                         const calendar_override& what_if) const {
  // The windows that overlap [from, to), in id order so that piece lists of
  // maintenance ids come out sorted.
  std::vector<std::pair<std::string_view, const maintenance_window*>> overlapping;
  auto consider = [&](std::string_view id, const maintenance_window& w) {
    if (w.start < to && w.end > from) overlapping.emplace_back(id, &w);
  };
  for (const auto& [id, w] : windows_)
    if (id != what_if.excluded && !(what_if.extra != nullptr && id == what_if.extra_id)) consider(id, w);
  if (what_if.extra != nullptr) consider(what_if.extra_id, *what_if.extra);
  std::sort(overlapping.begin(), overlapping.end());

  std::vector<std::int64_t> bounds{from, to};
  for (const auto& [id, w] : overlapping) {
    if (w->start > from) bounds.push_back(w->start);
    if (w->end < to) bounds.push_back(w->end);
  }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());

  // Sweep: windows start and end only at bounds, so each piece's active set
  // is those with start <= piece start < end.
  std::vector<std::pair<std::int64_t, std::size_t>> starts, ends;
  for (std::size_t i = 0; i < overlapping.size(); ++i) {
    starts.emplace_back(overlapping[i].second->start, i);
    ends.emplace_back(overlapping[i].second->end, i);
  }
  std::sort(starts.begin(), starts.end());
  std::sort(ends.begin(), ends.end());
  std::set<std::size_t> active;
  std::size_t next_start = 0, next_end = 0;
  std::vector<removal_piece> pieces;
  pieces.reserve(bounds.size() - 1);
  std::vector<const std::string*> targets;
  for (std::size_t b = 0; b + 1 < bounds.size(); ++b) {
    const std::int64_t at = bounds[b];
    while (next_end < ends.size() && ends[next_end].first <= at) active.erase(ends[next_end++].second);
    while (next_start < starts.size() && starts[next_start].first <= at) {
      const std::size_t i = starts[next_start++].second;
      if (overlapping[i].second->end > at) active.insert(i);
    }
    removal_piece piece{at, bounds[b + 1], {}, {}};
    targets.clear();
    for (std::size_t i : active) {
      piece.maintenances.emplace_back(overlapping[i].first);
      for (const auto& t : overlapping[i].second->targets) targets.push_back(&t);
    }
    if (!targets.empty()) piece.removed = union_inside(hw, targets);
    pieces.push_back(std::move(piece));
  }
  return pieces;
}

std::vector<removal_piece> maintenance_calendar::removal(const topology& hw, std::int64_t from,
                                                         std::int64_t to,
                                                         const calendar_override& what_if) const {
  if (from >= to) return {};
  if (!what_if.empty()) return compute(hw, from, to, what_if);
  const auto& all = all_pieces(hw);
  // The first cached piece that ends after `from`.
  auto it = std::upper_bound(all.begin(), all.end(), from,
                             [](std::int64_t t, const removal_piece& p) { return t < p.end; });
  std::vector<removal_piece> pieces;
  for (; it != all.end() && it->start < to; ++it) {
    pieces.push_back(*it);
    pieces.back().start = std::max(it->start, from);
    pieces.back().end = std::min(it->end, to);
  }
  return pieces;
}

const std::vector<removal_piece>& maintenance_calendar::all_pieces(const topology& hw) const {
  if (!cache_valid_ || cache_version_ != version_ || cache_topology_version_ != hw.version()) {
    cache_ = compute(hw, time_min, time_max, {});
    cache_version_ = version_;
    cache_topology_version_ = hw.version();
    cache_valid_ = true;
  }
  return cache_;
}

pools maintenance_calendar::removed_at(const topology& hw, std::int64_t at,
                                       std::string_view datacenter) const {
  std::vector<const std::string*> targets;
  for (const auto& [id, w] : windows_)
    if (w.start <= at && at < w.end)
      for (const auto& t : w.targets) targets.push_back(&t);
  if (targets.empty()) return {};
  const topology::node* dc = nullptr;
  if (!datacenter.empty()) {
    dc = hw.find(make_key("datacenter", datacenter));
    if (dc == nullptr || !dc->alive) return {};
  }
  return union_inside(hw, targets, dc);
}

pools maintenance_calendar::removed_by(const topology& hw, const maintenance_window& w) {
  std::vector<const std::string*> targets;
  for (const auto& t : w.targets) targets.push_back(&t);
  return union_inside(hw, targets);
}

}  // namespace horao::domain
