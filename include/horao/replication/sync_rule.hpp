#pragma once
// The sync rule of DESIGN §5 and the seed's architecture notes, per peer:
//
//   push  <=>  (now - last_push >= SYNC_DELTA  and  pending > 0)  or  pending > SYNC_MAX
//
// Invariants: a pure function of its arguments (time is injected, in
// microseconds of any monotonic clock); nothing pending never pushes;
// SYNC_MAX = 0 pushes as soon as one change is pending; a peer that never
// had a push has last_push = its link's start (the hello exchange is a sync
// point), so a fresh link does not push on the time branch at once.

#include <cstdint>
#include <optional>

namespace horao::replication {

struct sync_settings {
  std::int64_t delta_us = 180'000'000;  // SYNC_DELTA
  std::uint64_t max_pending = 1000;     // SYNC_MAX
};

inline bool should_push(const sync_settings& s, std::int64_t now_us, std::int64_t last_push_us,
                        std::uint64_t pending) {
  if (pending == 0) return false;
  if (pending > s.max_pending) return true;
  return now_us - last_push_us >= s.delta_us;
}

// When the time branch will fire if nothing else happens: nullopt while
// nothing is pending.
inline std::optional<std::int64_t> push_deadline(const sync_settings& s, std::int64_t last_push_us,
                                                 std::uint64_t pending) {
  if (pending == 0) return std::nullopt;
  return last_push_us + s.delta_us;
}

}  // namespace horao::replication
