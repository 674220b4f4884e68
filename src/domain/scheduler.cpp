// The scheduler's state and the admission rule (scheduler.hpp): entries in
// creation order, admitted claims in demand timelines, deferred re-runs.
#include "horao/domain/scheduler.hpp"

#include <algorithm>

namespace horao::domain {

scheduler::scheduler(store::record_store& store, const capacity_index& capacity, scheduler_settings settings)
    : store_(store), capacity_(capacity), settings_(settings) {
  subscription_ = store_.subscribe([this](const store::change& c) { on_change(c); });
  rebuild();
}

scheduler::~scheduler() {
  store_.unsubscribe(subscription_);
}

void scheduler::rebuild() {
  entries_.clear();
  order_.clear();
  conflicted_.clear();
  limits_.clear();
  by_tenant_.clear();
  held_.clear();
  tenant_held_.clear();
  admitted_.clear();
  limits_changed_.clear();
  dirty_from_.reset();
  store_.for_each_alive("tenant", {}, [&](std::string_view id, const store::stored_record& e) {
    on_tenant(id, e.state);
    return true;
  });
  store_.for_each_alive("reservation", {}, [&](std::string_view id, const store::stored_record& e) {
    on_reservation(id, e.state);
    return true;
  });
  limits_changed_.clear();
  seen_capacity_version_ = capacity_.version();
  mark_all_dirty();
}

void scheduler::on_change(const store::change& c) {
  const auto [kind, id] = store::split_key(c.key);
  if (kind == "reservation")
    on_reservation(id, c.entry.state);
  else if (kind == "tenant")
    on_tenant(id, c.entry.state);
}

void scheduler::on_reservation(std::string_view id, const crdt::record& state) {
  if (auto it = entries_.find(id); it != entries_.end()) {
    entry& old = it->second;
    if (old.admitted) {
      // Reservations after it that are all accepted stay accepted with less
      // load; only a conflicted one may now fit, and then those after it change.
      if (later_conflicts(old.key)) mark_dirty(old.key);
      unadmit(old);
    }
    conflicted_.erase(old.key);
    order_.erase(old.key);
    if (old.spec) {
      auto t = by_tenant_.find(old.spec->tenant);
      if (t != by_tenant_.end()) {
        t->second.erase(old.key.id);
        if (t->second.empty()) by_tenant_.erase(t);
      }
    }
    entries_.erase(it);
  }
  if (!state.alive()) return;

  entry e;
  e.key = {state.created(), std::string(id)};
  e.spec = read_reservation(state);
  // A stored reservation always has a start (decide() fills it in); one
  // without cannot be placed in time.
  if (e.spec && !e.spec->start) e.spec.reset();
  if (e.spec) {
    e.start = *e.spec->start;
    e.end = e.spec->end.value_or(time_max);
    by_tenant_[e.spec->tenant].insert(std::string(id));
  }
  e.status = {false, "pending", {}};
  entry& added = entries_.emplace(std::string(id), std::move(e)).first->second;
  order_.emplace(added.key, &added);
  mark_dirty(added.key);
}

void scheduler::on_tenant(std::string_view id, const crdt::record& state) {
  tenant_limits limits = state.alive() ? read_constraints(state) : tenant_limits{};
  auto it = limits_.find(id);
  const tenant_limits before = it == limits_.end() ? tenant_limits{} : it->second;
  if (before == limits) return;
  if (limits.any()) {
    if (it == limits_.end()) {
      // Limits from now on: its admitted claims get a timeline.
      demand_timeline& held = tenant_held_[std::string(id)];
      held.clear();
      if (auto ids = by_tenant_.find(id); ids != by_tenant_.end())
        for (const auto& rid : ids->second)
          if (const entry& e = entries_.find(rid)->second; e.admitted)
            held.add(e.start, e.end, pools{e.spec->demand, {}});
    }
    limits_[std::string(id)] = limits;
  } else {
    if (it != limits_.end()) limits_.erase(it);
    if (auto t = tenant_held_.find(id); t != tenant_held_.end()) tenant_held_.erase(t);
  }
  limits_changed_.insert(std::string(id));
}

void scheduler::mark_dirty(const order_key& from) {
  if (!dirty_from_ || from < *dirty_from_) dirty_from_ = from;
}

// The bottom key precedes every entry: a live record's creation stamp is
// above the bottom HLC.
void scheduler::mark_all_dirty() {
  dirty_from_ = order_key{};
}

bool scheduler::later_conflicts(const order_key& key) const {
  return conflicted_.upper_bound(key) != conflicted_.end();
}

const tenant_limits* scheduler::limits_of(std::string_view tenant) const {
  auto it = limits_.find(tenant);
  return it == limits_.end() ? nullptr : &it->second;
}

// Capped at lane_cap: what is admitted never exceeds it, which keeps the
// demand timelines within 64 bits (timeline.hpp). No real site comes near.
pools scheduler::capacity() const {
  pools cap = capacity_.hardware().total();
  for (pool p : {pool::total, pool::hsn})
    for (auto& q : cap[p].q) q = std::min(q, lane_cap);
  return cap;
}

const std::vector<removal_piece>& scheduler::pieces() const {
  if (!what_if_.empty()) return what_if_pieces_;
  return capacity_.maintenances().all_pieces(capacity_.hardware());
}

// Whether every admitted claim together still fits at every instant, and
// every tenant whose limits changed is still within them. When so, each
// admitted reservation would be admitted again (its check sees a part of
// that load), so a change of capacity or limits can only let conflicted
// ones in.
bool scheduler::still_feasible() const {
  for (const auto& tenant : limits_changed_) {
    const tenant_limits* limits = limits_of(tenant);
    auto held = tenant_held_.find(tenant);
    if (limits == nullptr || held == tenant_held_.end()) continue;
    const amounts peak = held->second.peak(time_min, time_max).total;
    for (dimension d : all_dimensions)
      if ((*limits)[d] && peak[d] > *(*limits)[d]) return false;
  }
  const pools cap = capacity();
  auto non_negative = [](const pools& left) {
    for (pool p : {pool::total, pool::hsn})
      for (dimension d : all_dimensions)
        if (left[p][d] < 0) return false;
    return true;
  };
  // The most ever removed with the most ever held: enough when it fits.
  pools most_removed;
  for (const auto& piece : pieces()) most_removed = max_of(most_removed, piece.removed);
  if (non_negative(cap - most_removed - held_.peak(time_min, time_max))) return true;
  for (const auto& piece : pieces())
    if (!non_negative(cap - piece.removed - held_.peak(piece.start, piece.end))) return false;
  return true;
}

void scheduler::refresh() {
  if (capacity_.version() != seen_capacity_version_ || !limits_changed_.empty()) {
    // When every admitted claim still fits, each reservation before the first
    // conflicted one still fits (its check sees part of that load): only from
    // there on can anything change. Otherwise, from the start.
    if (!still_feasible())
      mark_all_dirty();
    else if (!conflicted_.empty())
      mark_dirty(*conflicted_.begin());
    seen_capacity_version_ = capacity_.version();
    limits_changed_.clear();
  }
  if (!dirty_from_) return;
  ++reruns_;
  const auto first = order_.lower_bound(*dirty_from_);
  dirty_from_.reset();
  // Decisions before `first` do not depend on anything after it: take the
  // later claims off and decide them again, in order.
  if (first == order_.begin()) {
    held_.clear();
    tenant_held_.clear();
    admitted_.clear();
    for (auto& [key, e] : order_) e->admitted = false;
  } else {
    for (auto it = first; it != order_.end(); ++it)
      if (it->second->admitted) unadmit(*it->second);
  }
  for (auto it = first; it != order_.end(); ++it) evaluate(*it->second);
}

void scheduler::admit(entry& e) {
  held_.add(e.start, e.end, e.spec->claim());
  if (limits_of(e.spec->tenant) != nullptr)
    tenant_held_[e.spec->tenant].add(e.start, e.end, pools{e.spec->demand, {}});
  e.admitted = true;
  e.admitted_slot = admitted_.size();
  admitted_.push_back({e.start, e.end, &e});
}

void scheduler::unadmit(entry& e) {
  held_.remove(e.start, e.end, e.spec->claim());
  if (auto t = tenant_held_.find(e.spec->tenant); t != tenant_held_.end())
    t->second.remove(e.start, e.end, pools{e.spec->demand, {}});
  e.admitted = false;
  // Swap-remove; the moved claim learns its new slot.
  admitted_[e.admitted_slot] = admitted_.back();
  admitted_[e.admitted_slot].e->admitted_slot = e.admitted_slot;
  admitted_.pop_back();
}

void scheduler::set_status(entry& e, reservation_status s) {
  if (s.accepted)
    conflicted_.erase(e.key);
  else if (e.spec)
    conflicted_.insert(e.key);
  e.status = std::move(s);
}

void scheduler::evaluate(entry& e) {
  ++evaluations_;
  if (!e.spec) {
    e.status = {
        false, "invalid: the stored reservation cannot be read (tenant, resources, start or end)", {}};
    return;
  }
  if (e.key.id == excluded_) {
    // A decision is asking what the rule says without this reservation.
    conflicted_.erase(e.key);
    return;
  }
  if (fits(*e.spec, e.start, e.end) == outcome::fits) {
    admit(e);
    set_status(e, {true, {}, {}});
    return;
  }
  const fit f = check(*e.spec, e.start, e.end);
  reservation_status s{false, {}, {}};
  if (f.breach) {
    const constraint_breach& b = *f.breach;
    s.short_by[b.dim] = b.held + b.asked - b.limit;
    s.reason = "constraint_exceeded: " + std::string(name_of(b.dim)) + " limit " +
               format_quantity(b.dim, b.limit) + ", asked " + format_quantity(b.dim, b.asked) +
               " while the tenant holds " + format_quantity(b.dim, b.held);
  } else {
    s.reason = "insufficient_capacity:";
    bool first = true;
    for (const auto& sh : f.shortages) {
      s.short_by[sh.dim] = sh.short_by;
      s.reason += std::string(first ? " " : ", ") + std::string(name_of(sh.dim)) + " short by " +
                  format_quantity(sh.dim, sh.short_by) + (sh.in == pool::hsn ? " in the hsn pool" : "");
      first = false;
    }
  }
  set_status(e, std::move(s));
}

std::optional<constraint_breach> scheduler::breach_of(const reservation_spec& spec, std::int64_t start,
                                                      std::int64_t end) const {
  const tenant_limits* limits = limits_of(spec.tenant);
  if (limits == nullptr) return std::nullopt;
  auto t = tenant_held_.find(spec.tenant);
  const amounts held = t == tenant_held_.end() ? amounts{} : t->second.peak(start, end).total;
  for (dimension d : all_dimensions) {
    const auto& limit = (*limits)[d];
    if (limit && spec.demand[d] > 0 && held[d] + spec.demand[d] > *limit)
      return constraint_breach{d, *limit, spec.demand[d], held[d]};
  }
  return std::nullopt;
}

namespace {

bool room_for(const pools& claim, const pools& left) {
  for (pool p : {pool::total, pool::hsn})
    for (dimension d : all_dimensions)
      if (claim[p][d] > 0 && left[p][d] < claim[p][d]) return false;
  return true;
}

// The first piece that ends after `start`.
std::vector<removal_piece>::const_iterator first_piece(const std::vector<removal_piece>& all,
                                                       std::int64_t start) {
  return std::upper_bound(all.begin(), all.end(), start,
                          [](std::int64_t t, const removal_piece& p) { return t < p.end; });
}

}  // namespace

scheduler::outcome scheduler::fits(const reservation_spec& spec, std::int64_t start, std::int64_t end) const {
  if (breach_of(spec, start, end)) return outcome::over_limits;
  const pools claim = spec.claim();
  const pools cap = capacity();
  const auto& all = pieces();
  const auto first = first_piece(all, start);
  // Fast path: the most removed and the most held anywhere in the window
  // bound every instant, so when even that leaves room, it fits.
  pools most_removed;
  for (auto it = first; it != all.end() && it->start < end; ++it)
    most_removed = max_of(most_removed, it->removed);
  if (room_for(claim, cap - most_removed - held_.peak(start, end))) return outcome::fits;
  for (auto it = first; it != all.end() && it->start < end; ++it)
    if (!room_for(claim, cap - it->removed - held_.peak(std::max(it->start, start), std::min(it->end, end))))
      return outcome::short_of_capacity;
  return outcome::fits;
}

scheduler::fit scheduler::check(const reservation_spec& spec, std::int64_t start, std::int64_t end) const {
  fit f;
  f.breach = breach_of(spec, start, end);
  if (f.breach) return f;
  const pools claim = spec.claim();
  const pools cap = capacity();
  const auto& all = pieces();
  std::array<std::optional<shortage>, dimension_count> worst;
  for (auto it = first_piece(all, start); it != all.end() && it->start < end; ++it) {
    const pools left = cap - it->removed - held_.peak(std::max(it->start, start), std::min(it->end, end));
    for (pool p : {pool::total, pool::hsn}) {
      for (dimension d : all_dimensions) {
        const quantity asked = claim[p][d];
        if (asked <= 0 || left[p][d] >= asked) continue;
        auto& w = worst[static_cast<std::size_t>(d)];
        if (!w || asked - left[p][d] > w->short_by) w = shortage{d, p, asked, left[p][d], asked - left[p][d]};
      }
    }
  }
  for (const auto& w : worst)
    if (w) f.shortages.push_back(*w);
  return f;
}

std::optional<reservation_status> scheduler::status_of(std::string_view id) {
  refresh();
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second.status;
}

std::size_t scheduler::conflicted_count() {
  refresh();
  std::size_t n = 0;
  for (const auto& [id, e] : entries_) n += e.status.accepted ? 0 : 1;
  return n;
}

}  // namespace horao::domain
