#pragma once
// Maintenance windows over time and the capacity they remove (DESIGN §6,
// API.md maintenances and /v1/capacity?at=).
//
// A maintenance {start, end, targets} removes during [start, end) everything
// inside its targets: a datacenter or cabinet takes all it holds, a machine
// takes itself and its disks, a disk only its storage.
//
// Invariants:
//  * removal() cuts [from, to) into consecutive pieces in which the set of
//    active maintenances is constant, and gives for each the capacity of the
//    *union* of the active targets: a target inside another active target
//    (or named twice, by one maintenance or by two overlapping ones) counts
//    once, so overlapping maintenances never subtract the same hardware
//    twice. Removal is read from the topology's subtree sums when asked, so
//    it follows hardware that moved, appeared or died under a target after
//    the maintenance was written; no per-maintenance cache can go stale.
//  * the removal is a subset of the capacity, pool by pool and dimension by
//    dimension (it is a sum of disjoint subtrees).
//  * a window is [start, end) with start < end; a record that cannot be read
//    as one (missing or bad times, no targets) removes nothing.
// Cost: pieces of the whole calendar are cached until the topology or the
// calendar changes; a query slices them (binary search). Each piece costs the
// number of active targets times the tree depth (<= 6) to compute.

#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "horao/crdt/record.hpp"
#include "horao/domain/amounts.hpp"
#include "horao/domain/topology.hpp"

namespace horao::domain {

inline constexpr std::int64_t time_min = std::numeric_limits<std::int64_t>::min();
inline constexpr std::int64_t time_max = std::numeric_limits<std::int64_t>::max();  // also "open end"

struct maintenance_window {
  std::int64_t start = 0;
  std::int64_t end = 0;
  std::vector<std::string> targets;  // keys of hardware records
};

// From a validated body ({"start", "end", "targets", ...}) or stored fields.
std::optional<maintenance_window> parse_maintenance(const nlohmann::json& body);
std::optional<maintenance_window> read_maintenance(const crdt::record& state);

struct removal_piece {
  std::int64_t start = 0;
  std::int64_t end = 0;
  pools removed;
  std::vector<std::string> maintenances;  // ids active in the piece, in id order
};

// A change to the calendar for a what-if question (impact reports).
struct calendar_override {
  std::string_view excluded;                  // this maintenance id is ignored
  const maintenance_window* extra = nullptr;  // this window is added...
  std::string_view extra_id;                  // ...under this id
  bool empty() const { return excluded.empty() && extra == nullptr; }
};

class maintenance_calendar {
 public:
  void put(std::string_view id, maintenance_window w);
  void remove(std::string_view id);
  void clear();

  std::size_t size() const { return windows_.size(); }
  const maintenance_window* find(std::string_view id) const;
  std::uint64_t version() const { return version_; }

  // Pieces covering [from, to) exactly, in time order (from < to).
  std::vector<removal_piece> removal(const topology& hw, std::int64_t from, std::int64_t to,
                                     const calendar_override& what_if = {}) const;
  // The pieces of all time, [time_min, time_max), cached until the topology
  // or the calendar changes: the scheduler slices them itself.
  const std::vector<removal_piece>& all_pieces(const topology& hw) const;
  // What maintenance removes at instant `at`, only in datacenter `datacenter`
  // when it is not empty.
  pools removed_at(const topology& hw, std::int64_t at, std::string_view datacenter = {}) const;
  // What one window's own targets hold now (their union).
  static pools removed_by(const topology& hw, const maintenance_window& w);

 private:
  using window_map = std::map<std::string, maintenance_window, std::less<>>;
  std::vector<removal_piece> compute(const topology& hw, std::int64_t from, std::int64_t to,
                                     const calendar_override& what_if) const;

  window_map windows_;
  std::uint64_t version_ = 0;
  // Pieces of all time, valid while both versions match.
  mutable std::vector<removal_piece> cache_;
  mutable std::uint64_t cache_version_ = 0;
  mutable std::uint64_t cache_topology_version_ = 0;
  mutable bool cache_valid_ = false;
};

// The capacity of the union of `targets`: each distinct target counts once,
// and not at all when one of its ancestors is a target too. With `datacenter`
// set, only targets placed in that datacenter count.
pools union_inside(const topology& hw, const std::vector<const std::string*>& targets,
                   const topology::node* datacenter = nullptr);

}  // namespace horao::domain
