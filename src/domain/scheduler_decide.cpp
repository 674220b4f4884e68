// Decisions on reservation writes (scheduler.hpp): a fixed window, or the
// earliest fitting start, and the refusal that says who holds the capacity.
#include <algorithm>

#include "horao/domain/scheduler.hpp"
#include "horao/domain/schema.hpp"

namespace horao::domain {
namespace {

decision refuse_invalid(std::string field, std::string message) {
  decision d;
  d.outcome = verdict::invalid;
  d.status = 422;
  d.code = "validation_failed";
  d.field = std::move(field);
  d.message = std::move(message);
  return d;
}

std::string window_text(std::int64_t start, std::int64_t end) {
  return "[" + canonical_time(start) + ", " +
         (end == time_max ? std::string("open end") : canonical_time(end)) + ")";
}

}  // namespace

decision scheduler::decide(std::string_view id, const nlohmann::json& body, std::int64_t now_us,
                           write_mode mode) {
  refresh();
  const auto spec = parse_reservation(body);
  if (!spec)
    return refuse_invalid("/resources", "the reservation cannot be read: tenant, resources, start, end");
  if (!spec->start && spec->end && *spec->end <= now_us)
    return refuse_invalid(
        "/end",
        "without start, end must be in the future: the window keeps the length end - now and "
        "moves with the start chosen");

  // Its own old claim does not count against it.
  entry* old = nullptr;
  if (auto it = entries_.find(id); it != entries_.end() && it->second.admitted) old = &it->second;
  bool lifted = false;
  bool rerun = false;
  if (old != nullptr) {
    if (mode == write_mode::put && later_conflicts(old->key)) {
      // A PUT moves it last: without its old claim, reservations after it may
      // now be admitted first. Ask the rule what it says without it.
      excluded_ = std::string(id);
      mark_dirty(old->key);
      refresh();
      rerun = true;
    } else {
      unadmit(*old);
      lifted = true;
    }
  }

  decision d =
      spec->start ? decide_window(*spec, *spec->start, spec->end.value_or(time_max)) : search(*spec, now_us);

  if (lifted) admit(*old);
  if (rerun) {
    excluded_.clear();
    mark_dirty(old->key);  // the real statuses again, at the next read
  }
  if (d.accepted()) {
    d.body = body;
    d.body["start"] = canonical_time(d.start);
    if (d.end)
      d.body["end"] = canonical_time(*d.end);
    else
      d.body.erase("end");
  }
  return d;
}

decision scheduler::decide_window(const reservation_spec& spec, std::int64_t start, std::int64_t end) const {
  decision d;
  if (fits(spec, start, end) == outcome::fits) {
    d.outcome = verdict::accepted;
    d.start = start;
    if (end != time_max) d.end = end;
    return d;
  }
  const fit f = check(spec, start, end);
  d.status = 409;
  if (f.breach) {
    const constraint_breach& b = *f.breach;
    d.outcome = verdict::constraint_exceeded;
    d.code = "constraint_exceeded";
    d.breach = b;
    d.message = "tenant " + spec.tenant + ": " + std::string(name_of(b.dim)) + " limit " +
                format_quantity(b.dim, b.limit) + " exceeded: asked " + format_quantity(b.dim, b.asked) +
                (b.held > 0 ? " while already holding " + format_quantity(b.dim, b.held) + " in " +
                                  window_text(start, end)
                            : std::string());
    return d;
  }
  d.outcome = verdict::insufficient_capacity;
  d.code = "insufficient_capacity";
  d.shortages = f.shortages;
  explain(d, start, end);
  return d;
}

decision scheduler::search(const reservation_spec& spec, std::int64_t now_us) const {
  const std::int64_t step = std::max<std::int64_t>(settings_.planning_interval_us, 1);
  const std::int64_t steps = std::max<std::int64_t>(settings_.planning_window_us, 0) / step;
  const std::optional<std::int64_t> length =
      spec.end ? std::optional<std::int64_t>(*spec.end - now_us) : std::nullopt;
  // The first start refused for capacity, else the first refused for limits:
  // capacity is what a later start could have found, so it is the better
  // explanation when both occur.
  std::optional<std::pair<std::int64_t, std::int64_t>> short_of_capacity, over_limits;
  for (std::int64_t k = 0; k <= steps; ++k) {
    if (k * step > time_max - 1 - now_us) break;  // past the end of time
    const std::int64_t start = now_us + k * step;
    if (length && *length > time_max - 1 - start) break;
    const std::int64_t end = length ? start + *length : time_max;
    const outcome o = fits(spec, start, end);
    if (o == outcome::fits) return decide_window(spec, start, end);
    auto& first = o == outcome::over_limits ? over_limits : short_of_capacity;
    if (!first) first = std::pair{start, end};
  }
  if (!short_of_capacity && !over_limits)
    return refuse_invalid("/start", "no start lies within the planning window");
  const auto [start, end] = short_of_capacity ? *short_of_capacity : *over_limits;
  decision d = decide_window(spec, start, end);
  d.message = "no start from now to PLANNING_WINDOW ahead (one every PLANNING_INTERVAL) fits; the first " +
              std::string(short_of_capacity ? "short of capacity" : "over the tenant's limits") + ": " +
              d.message;
  return d;
}

// Fills worst_at, holders and the message for the first shortage: the
// instant of [start, end) where that dimension is shortest, and the admitted
// reservations and maintenances that hold it then.
void scheduler::explain(decision& d, std::int64_t start, std::int64_t end) const {
  const shortage& sh = d.shortages.front();
  const pool p = sh.in;
  const dimension dim = sh.dim;

  // Admitted claims in the window, as (time, +/-amount) events.
  std::vector<const entry*> inside;
  std::vector<std::pair<std::int64_t, quantity>> events;
  for (const admitted_claim& c : admitted_) {
    if (c.start >= end || c.end <= start) continue;
    const reservation_spec& spec = *c.e->spec;
    const quantity a = p == pool::hsn && !spec.hsn_only ? 0 : spec.demand[dim];
    if (a <= 0) continue;
    inside.push_back(c.e);
    events.emplace_back(std::max(c.start, start), a);
    if (c.end < end) events.emplace_back(c.end, -a);
  }
  std::sort(events.begin(), events.end());
  const auto& all = pieces();
  auto piece = std::upper_bound(all.begin(), all.end(), start,
                                [](std::int64_t t, const removal_piece& x) { return t < x.end; });
  // Sweep the instants where either changes; keep the earliest worst one.
  std::int64_t worst_at = start;
  quantity worst_used = -1;
  quantity held = 0;
  std::size_t next = 0;
  std::int64_t t = start;
  while (true) {
    while (next < events.size() && events[next].first <= t) held += events[next++].second;
    while (piece != all.end() && piece->end <= t) ++piece;
    const quantity removed = piece != all.end() ? piece->removed[p][dim] : 0;
    if (held + removed > worst_used) {
      worst_used = held + removed;
      worst_at = t;
    }
    std::int64_t following = end;
    if (next < events.size()) following = std::min(following, events[next].first);
    if (piece != all.end() && piece->end < end) following = std::min(following, piece->end);
    if (following >= end) break;
    t = following;
  }
  d.worst_at = worst_at;

  for (const entry* e : inside)
    if (e->start <= worst_at && worst_at < e->end)
      d.holders.push_back({"reservation/" + e->key.id, e->spec->tenant, e->spec->claim()[p][dim]});
  auto at_piece = std::upper_bound(all.begin(), all.end(), worst_at,
                                   [](std::int64_t x, const removal_piece& y) { return x < y.end; });
  if (at_piece != all.end() && at_piece->start <= worst_at) {
    for (const auto& id : at_piece->maintenances) {
      const maintenance_window* w = capacity_.maintenances().find(id);
      if (w == nullptr) continue;
      const quantity a = maintenance_calendar::removed_by(capacity_.hardware(), *w)[p][dim];
      if (a > 0) d.holders.push_back({"maintenance/" + id, {}, a});
    }
  }
  std::sort(d.holders.begin(), d.holders.end(), [](const holder& a, const holder& b) {
    return a.amount != b.amount ? a.amount > b.amount : a.key < b.key;
  });
  const std::size_t holder_count = d.holders.size();
  if (d.holders.size() > decision::max_holders) d.holders.resize(decision::max_holders);

  std::string text = "insufficient capacity in " + window_text(start, end) + ": ";
  bool first = true;
  for (const auto& s : d.shortages) {
    if (!first) text += "; ";
    text += std::string(name_of(s.dim)) + " short by " + format_quantity(s.dim, s.short_by) + " (asked " +
            format_quantity(s.dim, s.asked) + ", " +
            format_quantity(s.dim, std::max<quantity>(s.available, 0)) + " left" +
            (s.in == pool::hsn ? " in the hsn pool" : "") + ")";
    first = false;
  }
  text += "; at " + canonical_time(worst_at) + " " + std::string(name_of(dim)) + " is held by ";
  if (d.holders.empty()) {
    text += "no reservation or maintenance (the hardware is not there)";
  } else {
    for (std::size_t i = 0; i < d.holders.size(); ++i) {
      const holder& h = d.holders[i];
      text += (i ? ", " : "") + h.key + " (" + (h.tenant.empty() ? "" : "tenant " + h.tenant + ", ") +
              format_quantity(dim, h.amount) + ")";
    }
    if (holder_count > d.holders.size())
      text += " and " + std::to_string(holder_count - d.holders.size()) + " more";
  }
  d.message = std::move(text);
}

}  // namespace horao::domain
