#pragma once
// Capped exponential backoff with jitter, for reconnects and for retrying a
// refused delta.
//
// Invariants: the n-th delay (n from 0) is drawn uniformly from
// [d/2, d] with d = min(cap, initial * 2^n), so it never exceeds `cap`, never
// falls below half of it once capped, and two daemons that lost each other at
// the same moment do not redial in lockstep; reset() starts over at
// `initial`. The random source is injected (a seed) for tests.

#include <algorithm>
#include <cstdint>
#include <random>

namespace horao::replication {

class backoff {
 public:
  backoff(std::int64_t initial_ms, std::int64_t cap_ms, std::uint64_t seed = std::random_device{}())
      : initial_ms_(std::max<std::int64_t>(1, initial_ms)),
        cap_ms_(std::max(cap_ms, initial_ms_)),
        rng_(seed) {}

  std::int64_t next_ms() {
    std::int64_t d = initial_ms_;
    for (unsigned i = 0; i < attempt_ && d < cap_ms_; ++i) d *= 2;
    d = std::min(d, cap_ms_);
    if (attempt_ < 64) ++attempt_;
    std::uniform_int_distribution<std::int64_t> jitter(d / 2, d);
    return jitter(rng_);
  }
  void reset() { attempt_ = 0; }
  unsigned attempts() const { return attempt_; }

 private:
  std::int64_t initial_ms_;
  std::int64_t cap_ms_;
  unsigned attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace horao::replication
