#include "horao/domain/timeline.hpp"

#include <algorithm>
#include <stdexcept>

#include "horao/domain/maintenance_calendar.hpp"

namespace horao::domain {
namespace {

// Wrapping arithmetic: defined even if the caller's guarantee were broken.
inline std::int64_t wrap_add(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}

}  // namespace

demand_timeline::lanes demand_timeline::to_lanes(const pools& p, bool negate) {
  lanes out{};
  for (std::size_t i = 0; i < dimension_count; ++i) {
    const auto lane = [&](quantity q) {
      const auto v = static_cast<std::int64_t>(std::clamp<quantity>(q, -lane_cap, lane_cap));
      return negate ? -v : v;
    };
    out[i] = lane(p.total.q[i]);
    out[dimension_count + i] = lane(p.hsn.q[i]);
  }
  return out;
}

pools demand_timeline::to_pools(const lanes& l) {
  pools p;
  for (std::size_t i = 0; i < dimension_count; ++i) {
    p.total.q[i] = l[i];
    p.hsn.q[i] = l[dimension_count + i];
  }
  return p;
}

// Appends a run of boundaries (its sum and best prefix) after `acc`, in place:
// best = max(best, sum + run.best), sum += run.sum.
void demand_timeline::append(aggregate& acc, const lanes& sum, const lanes& best) {
  if (!acc.has) {
    acc.sum = sum;
    acc.best = best;
    acc.has = true;
    return;
  }
  for (std::size_t i = 0; i < lane_count; ++i) {
    acc.best[i] = std::max(acc.best[i], wrap_add(acc.sum[i], best[i]));
    acc.sum[i] = wrap_add(acc.sum[i], sum[i]);
  }
}

void demand_timeline::pull(index t) {
  node& n = nodes_[t];
  aggregate a;
  if (n.left != none) append(a, nodes_[n.left].sum, nodes_[n.left].best);
  append(a, n.delta, n.delta);
  if (n.right != none) append(a, nodes_[n.right].sum, nodes_[n.right].best);
  n.sum = a.sum;
  n.best = a.best;
}

demand_timeline::index demand_timeline::make(std::int64_t key, const lanes& delta, std::int32_t uses) {
  // xorshift64: fixed seed, so the same operations build the same tree.
  seed_ ^= seed_ << 13;
  seed_ ^= seed_ >> 7;
  seed_ ^= seed_ << 17;
  node n;
  n.key = key;
  n.priority = static_cast<std::uint32_t>(seed_ >> 32);
  n.uses = uses;
  n.delta = delta;
  n.sum = delta;
  n.best = delta;
  index t;
  if (!free_.empty()) {
    t = free_.back();
    free_.pop_back();
    nodes_[t] = n;
  } else {
    if (nodes_.size() >= static_cast<std::size_t>(INT32_MAX)) throw std::length_error("demand_timeline full");
    t = static_cast<index>(nodes_.size());
    nodes_.push_back(n);
  }
  ++size_;
  return t;
}

void demand_timeline::release(index t) {
  free_.push_back(t);
  --size_;
}

demand_timeline::index demand_timeline::merge(index a, index b) {
  if (a == none) return b;
  if (b == none) return a;
  if (nodes_[a].priority > nodes_[b].priority) {
    const index r = merge(nodes_[a].right, b);
    nodes_[a].right = r;
    pull(a);
    return a;
  }
  const index l = merge(a, nodes_[b].left);
  nodes_[b].left = l;
  pull(b);
  return b;
}

demand_timeline::index demand_timeline::rotate_right(index t) {
  const index l = nodes_[t].left;
  nodes_[t].left = nodes_[l].right;
  nodes_[l].right = t;
  pull(t);
  pull(l);
  return l;
}

demand_timeline::index demand_timeline::rotate_left(index t) {
  const index r = nodes_[t].right;
  nodes_[t].right = nodes_[r].left;
  nodes_[r].left = t;
  pull(t);
  pull(r);
  return r;
}

// Adds `delta` and `uses` at `key` in subtree t; returns the new subtree root.
// Indices, not references, cross the recursion: make() may grow nodes_.
demand_timeline::index demand_timeline::apply(index t, std::int64_t key, const lanes& delta,
                                              std::int32_t uses) {
  if (t == none) return make(key, delta, uses);
  if (key == nodes_[t].key) {
    for (std::size_t i = 0; i < lane_count; ++i) nodes_[t].delta[i] = wrap_add(nodes_[t].delta[i], delta[i]);
    nodes_[t].uses += uses;
    if (nodes_[t].uses <= 0) {
      const index joined = merge(nodes_[t].left, nodes_[t].right);
      release(t);
      return joined;
    }
    pull(t);
    return t;
  }
  if (key < nodes_[t].key) {
    const index l = apply(nodes_[t].left, key, delta, uses);
    nodes_[t].left = l;
    if (l != none && nodes_[l].priority > nodes_[t].priority) return rotate_right(t);
  } else {
    const index r = apply(nodes_[t].right, key, delta, uses);
    nodes_[t].right = r;
    if (r != none && nodes_[r].priority > nodes_[t].priority) return rotate_left(t);
  }
  pull(t);
  return t;
}

void demand_timeline::change(std::int64_t key, const lanes& delta, std::int32_t uses) {
  root_ = apply(root_, key, delta, uses);
}

void demand_timeline::add(std::int64_t start, std::int64_t end, const pools& claim) {
  if (start >= end) return;
  change(start, to_lanes(claim, false), 1);
  if (end != time_max) change(end, to_lanes(claim, true), 1);
}

void demand_timeline::remove(std::int64_t start, std::int64_t end, const pools& claim) {
  if (start >= end) return;
  change(start, to_lanes(claim, true), -1);
  if (end != time_max) change(end, to_lanes(claim, false), -1);
}

void demand_timeline::clear() {
  nodes_.clear();
  free_.clear();
  root_ = none;
  size_ = 0;
}

std::size_t demand_timeline::height() const {
  std::size_t best = 0;
  std::vector<std::pair<index, std::size_t>> stack;
  if (root_ != none) stack.emplace_back(root_, 1);
  while (!stack.empty()) {
    const auto [t, depth] = stack.back();
    stack.pop_back();
    best = std::max(best, depth);
    if (nodes_[t].left != none) stack.emplace_back(nodes_[t].left, depth + 1);
    if (nodes_[t].right != none) stack.emplace_back(nodes_[t].right, depth + 1);
  }
  return best;
}

// Appends the keys in [lo, hi] of subtree t, whose keys all lie in
// [tmin, tmax], to `acc` in key order: whole subtrees inside the range are
// taken as they are, so only two root-to-leaf paths are walked.
void demand_timeline::range(index t, std::int64_t lo, std::int64_t hi, std::int64_t tmin, std::int64_t tmax,
                            aggregate& acc) const {
  while (t != none && tmax >= lo && tmin <= hi) {
    const node& n = nodes_[t];
    if (lo <= tmin && tmax <= hi) {
      append(acc, n.sum, n.best);
      return;
    }
    if (n.key > tmin) range(n.left, lo, hi, tmin, n.key - 1, acc);
    if (lo <= n.key && n.key <= hi) append(acc, n.delta, n.delta);
    if (n.key >= tmax) return;
    // The right subtree last: a loop instead of a tail call.
    t = n.right;
    tmin = n.key + 1;
  }
}

// The sum of every change at a key <= t: one descent.
demand_timeline::lanes demand_timeline::prefix(std::int64_t t) const {
  lanes sum{};
  index i = root_;
  while (i != none) {
    const node& n = nodes_[i];
    if (n.key <= t) {
      if (n.left != none)
        for (std::size_t k = 0; k < lane_count; ++k) sum[k] = wrap_add(sum[k], nodes_[n.left].sum[k]);
      for (std::size_t k = 0; k < lane_count; ++k) sum[k] = wrap_add(sum[k], n.delta[k]);
      i = n.right;
    } else {
      i = n.left;
    }
  }
  return sum;
}

pools demand_timeline::at(std::int64_t t) const {
  return to_pools(prefix(t));
}

pools demand_timeline::peak(std::int64_t from, std::int64_t to) const {
  const lanes base = prefix(from);
  if (to - 1 <= from) return to_pools(base);  // no boundary strictly inside; also covers to <= from
  aggregate acc{base, base, true};
  range(root_, from + 1, to - 1, time_min, time_max, acc);
  return to_pools(acc.best);
}

}  // namespace horao::domain
