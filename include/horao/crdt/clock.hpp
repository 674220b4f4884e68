#pragma once
// The hybrid logical clock of one node, over an injected time source.
//
// Invariants: every tick() is strictly greater than every timestamp this clock
// returned or observed before, whatever the physical clock does (it may stall
// or step back); observe() refuses, and does not advance past, a remote
// timestamp whose wall part is more than `max_forward_skew_us` ahead of the
// physical clock (0 = no limit). Not thread-safe: owned by the store's loop.

#include <cstdint>

#include "horao/crdt/hlc.hpp"

namespace horao::crdt {

class time_source {
 public:
  virtual ~time_source() = default;
  virtual std::int64_t now_us() const = 0;  // microseconds since the Unix epoch
};

class system_time_source final : public time_source {
 public:
  std::int64_t now_us() const override;
};

enum class observe_result { advanced, too_far_ahead };

class hybrid_clock {
 public:
  hybrid_clock(node_id self, const time_source& time, std::int64_t max_forward_skew_us = 0);

  hlc tick();
  observe_result observe(const hlc& remote);
  // Advances past `t` without the skew check: for state this node already
  // accepted once (recovery from Redis after a restart).
  void advance_to(const hlc& t);
  // True when `remote` is within the tolerated forward skew.
  bool acceptable(const hlc& remote) const;

  hlc last() const { return {wall_us_, counter_, self_}; }
  node_id self() const { return self_; }
  std::int64_t now_us() const { return time_.now_us(); }

 private:
  node_id self_;
  const time_source& time_;
  std::int64_t max_forward_skew_us_;
  std::int64_t wall_us_ = 0;
  std::uint32_t counter_ = 0;
};

}  // namespace horao::crdt
