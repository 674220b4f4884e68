#pragma once
// What replication keeps across restarts: unsigned numbers under string
// fields, which persist/ keeps in its `peers` hash (docs/replication.md):
//
//   NODE              the last seq of this daemon's log that NODE acknowledged
//   recv:NODE         the last seq of NODE's log this daemon applied durably
//   recv-epoch:NODE   the epoch of NODE's log that recv:NODE counts in
//   self:epoch        the epoch of this daemon's change log (random, < 2^62)
//
// Node ids never contain ':', so the fields cannot collide.
//
// Invariants: get() returns what the last set() of that field stored, or what
// was loaded at start; set() never blocks (persist/ writes it with its next
// batch; fields set before one batch starts are written in it together). A
// lost set() only means some records are sent again after a restart, never
// that one is skipped: the replicator saves recv:NODE only after the records
// it covers are durable. Single-threaded, on the store's loop.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace horao::replication {

class cursor_store {
 public:
  virtual ~cursor_store() = default;
  virtual std::optional<std::uint64_t> get(std::string_view field) const = 0;
  virtual void set(std::string_view field, std::uint64_t value) = 0;
};

// The in-memory store's cursors (nothing survives a restart, and with the
// in-memory record store nothing needs to).
class memory_cursor_store final : public cursor_store {
 public:
  std::optional<std::uint64_t> get(std::string_view field) const override {
    auto it = fields_.find(field);
    if (it == fields_.end()) return std::nullopt;
    return it->second;
  }
  void set(std::string_view field, std::uint64_t value) override { fields_[std::string(field)] = value; }
  const std::map<std::string, std::uint64_t, std::less<>>& fields() const { return fields_; }

 private:
  std::map<std::string, std::uint64_t, std::less<>> fields_;
};

// Adapts any object with get/set functions (persist::redis_store's
// peer_cursor() / set_peer_cursor()).
class function_cursor_store final : public cursor_store {
 public:
  using getter = std::function<std::optional<std::uint64_t>(std::string_view)>;
  using setter = std::function<void(std::string_view, std::uint64_t)>;
  function_cursor_store(getter get, setter set) : get_(std::move(get)), set_(std::move(set)) {}
  std::optional<std::uint64_t> get(std::string_view field) const override { return get_(field); }
  void set(std::string_view field, std::uint64_t value) override { set_(field, value); }

 private:
  getter get_;
  setter set_;
};

}  // namespace horao::replication
