#pragma once
// Demand over time: the sum of claims [start, end) held at every instant,
// with the peak over any window in O(log n) (the scheduler's structure over
// accepted reservations, DESIGN §6).
//
// Representation: a treap keyed by boundary time; each boundary holds the
// change of demand at that instant (+claim at a start, -claim at an end), and
// each subtree the sum of its changes and the largest prefix sum within it,
// per pool and dimension (10 lanes). The demand at t is the sum of changes at
// keys <= t; the peak over [from, to) is the largest of the demand at `from`
// and at every boundary inside (from, to).
//
// Invariants:
//  * at(t) = the sum of the claims of every added, not removed, [s, e) with
//    s <= t < e (e = time_max: open-ended, no end boundary);
//  * peak(from, to)[p][d] = max over t in [from, to) of at(t)[p][d], each pool
//    and dimension on its own (its own worst instant);
//  * lanes are 64-bit: correct while at(t) stays within [0, lane_cap] at every
//    instant, which the scheduler guarantees (it only admits what fits a
//    capacity it caps at lane_cap). Every stored sum and prefix maximum is a
//    difference of two such values, so none overflows; arithmetic wraps
//    rather than being undefined should the guarantee ever be broken;
//  * a boundary stays while a claim uses it, so the tree holds at most two
//    nodes per claim; remove() must name exactly a claim that was added;
//  * the shape depends only on the operations (fixed-seed priorities), and
//    results do not depend on the shape.
// Cost: add/remove/at/peak O(log n) expected.

#include <array>
#include <cstdint>
#include <vector>

#include "horao/domain/amounts.hpp"

namespace horao::domain {

inline constexpr quantity lane_cap = quantity{1} << 62;

class demand_timeline {
 public:
  void add(std::int64_t start, std::int64_t end, const pools& claim);
  void remove(std::int64_t start, std::int64_t end, const pools& claim);
  void clear();

  pools at(std::int64_t t) const;
  pools peak(std::int64_t from, std::int64_t to) const;
  std::size_t boundary_count() const { return size_; }
  // Longest root-to-leaf path (diagnostics: expected O(log n)).
  std::size_t height() const;

 private:
  static constexpr std::size_t lane_count = 2 * dimension_count;  // total pool, then hsn pool
  using lanes = std::array<std::int64_t, lane_count>;
  using index = std::int32_t;
  static constexpr index none = -1;

  struct node {
    std::int64_t key = 0;
    std::uint32_t priority = 0;
    index left = none;
    index right = none;
    std::int32_t uses = 0;
    lanes delta{};
    lanes sum{};   // of deltas in the subtree
    lanes best{};  // largest prefix sum of the subtree's deltas, in key order
  };
  struct aggregate {
    lanes sum{};
    lanes best{};
    bool has = false;
  };

  static lanes to_lanes(const pools& p, bool negate);
  static pools to_pools(const lanes& l);
  static void append(aggregate& acc, const lanes& sum, const lanes& best);
  void range(index t, std::int64_t lo, std::int64_t hi, std::int64_t tmin, std::int64_t tmax,
             aggregate& acc) const;
  lanes prefix(std::int64_t t) const;
  void pull(index t);
  index make(std::int64_t key, const lanes& delta, std::int32_t uses);
  void release(index t);
  index merge(index a, index b);
  index rotate_left(index t);
  index rotate_right(index t);
  index apply(index t, std::int64_t key, const lanes& delta, std::int32_t uses);
  void change(std::int64_t key, const lanes& delta, std::int32_t uses);

  std::vector<node> nodes_;
  std::vector<index> free_;
  index root_ = none;
  std::size_t size_ = 0;
  std::uint64_t seed_ = 0x9e3779b97f4a7c15ULL;
};

}  // namespace horao::domain
