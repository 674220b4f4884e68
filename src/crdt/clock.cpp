#include "horao/crdt/clock.hpp"

#include <chrono>
#include <limits>

namespace horao::crdt {

std::int64_t system_time_source::now_us() const {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

hybrid_clock::hybrid_clock(node_id self, const time_source& time, std::int64_t max_forward_skew_us)
    : self_(self), time_(time), max_forward_skew_us_(max_forward_skew_us) {}

hlc hybrid_clock::tick() {
  const std::int64_t physical = time_.now_us();
  if (physical > wall_us_) {
    wall_us_ = physical;
    counter_ = 0;
  } else if (counter_ == std::numeric_limits<std::uint32_t>::max()) {
    // 4 billion ticks within one microsecond: borrow the next microsecond
    // rather than wrap, which would break monotonicity.
    ++wall_us_;
    counter_ = 0;
  } else {
    ++counter_;
  }
  return last();
}

bool hybrid_clock::acceptable(const hlc& remote) const {
  if (max_forward_skew_us_ <= 0) return true;
  const std::int64_t now = time_.now_us();
  // Compared without computing now + skew, which a huge limit would overflow.
  return remote.wall_us <= now || remote.wall_us - now <= max_forward_skew_us_;
}

observe_result hybrid_clock::observe(const hlc& remote) {
  if (!acceptable(remote)) return observe_result::too_far_ahead;
  advance_to(remote);
  return observe_result::advanced;
}

void hybrid_clock::advance_to(const hlc& t) {
  // Remember the larger (wall, counter): the next tick() then lands strictly
  // after `t`, even when its node name sorts after ours.
  if (t.wall_us > wall_us_ || (t.wall_us == wall_us_ && t.counter > counter_)) {
    wall_us_ = t.wall_us;
    counter_ = t.counter;
  }
}

}  // namespace horao::crdt
