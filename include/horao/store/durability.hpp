#pragma once
// How a write learns that it is durable (DESIGN §4). persist/ implements it
// over Redis; memory_durability is the in-memory store's (always durable at
// once, and says so loudly at start).
//
// Invariants: when_durable(seq, done) calls `done` exactly once: true once
// every change up to `seq` is persisted, false when it cannot be now (the
// caller answers 503). accepting_writes() is false while a write would not be
// persisted (Redis down in sync mode, or still loading), with the reason.

#include <cstdint>
#include <functional>
#include <string>

namespace horao::store {

class durability {
 public:
  virtual ~durability() = default;
  virtual void when_durable(std::uint64_t seq, std::function<void(bool ok)> done) = 0;
  virtual bool accepting_writes(std::string* reason) const = 0;
};

class memory_durability final : public durability {
 public:
  void when_durable(std::uint64_t, std::function<void(bool)> done) override { done(true); }
  bool accepting_writes(std::string*) const override { return true; }
};

}  // namespace horao::store
