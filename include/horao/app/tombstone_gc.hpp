#pragma once
// Garbage collection of tombstones (DESIGN §2): dead records deleted more than
// TOMBSTONE_TTL ago are purged from the record store, and each purged key is
// handed to `on_purged` (the daemon gives it to persistence, which deletes the
// Redis entry in its next batch).
//
// Invariants:
//  * runs on the store's io_context; one tick looks at no more than
//    `scan_per_tick` change-log entries (record_store::purge_tombstones_step),
//    so the loop never pauses long, whatever the store's size; the ticks of a
//    pass follow each other `tick_gap` apart, and a pass starts
//    `pass_interval` after the previous one ended.
//  * the cutoff is the physical clock minus the TTL, read at every tick: a
//    tombstone is purged between TOMBSTONE_TTL and TOMBSTONE_TTL plus about
//    one pass interval after its deletion.
//  * `on_purged(key)` is called for every purged record, before it leaves
//    the store, in the same handler (no batch can be built in between).
//  * stop() cancels the timer; no tick runs after it. Handlers hold a
//    weak_ptr, so destroying the object with a tick pending is safe.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "horao/store/record_store.hpp"

namespace horao::app {

class metric_registry;

struct tombstone_gc_options {
  std::chrono::seconds ttl{7 * 86400};              // TOMBSTONE_TTL
  std::chrono::milliseconds pass_interval{60'000};  // between passes
  std::chrono::milliseconds tick_gap{5};            // between the steps of a pass
  std::size_t scan_per_tick = 4096;                 // change-log entries per step
  // A pass every ttl / 10, between 1 s and 60 s: a short TTL (tests) is
  // honoured closely, a long one costs one pass a minute.
  static tombstone_gc_options for_ttl(std::chrono::seconds ttl);
};

class tombstone_gc final : public std::enable_shared_from_this<tombstone_gc> {
 public:
  using purged_handler = std::function<void(std::string_view key)>;

  struct stats {
    std::uint64_t passes = 0;  // passes finished
    std::uint64_t purged = 0;  // records purged since start
    std::uint64_t ticks = 0;
  };

  tombstone_gc(boost::asio::io_context& io, store::record_store& store, tombstone_gc_options options,
               metric_registry* metrics = nullptr);
  tombstone_gc(const tombstone_gc&) = delete;
  tombstone_gc& operator=(const tombstone_gc&) = delete;

  static std::shared_ptr<tombstone_gc> create(boost::asio::io_context& io, store::record_store& store,
                                              tombstone_gc_options options,
                                              metric_registry* metrics = nullptr) {
    return std::make_shared<tombstone_gc>(io, store, options, metrics);
  }

  void on_purged(purged_handler fn) { on_purged_ = std::move(fn); }
  // The first pass starts at once (after recovery: the log must be in order).
  void start();
  void stop();

  const stats& statistics() const { return stats_; }
  const tombstone_gc_options& options() const { return options_; }

 private:
  void schedule(std::chrono::milliseconds delay);
  void tick();

  boost::asio::io_context& io_;
  store::record_store& store_;
  tombstone_gc_options options_;
  metric_registry* metrics_;
  purged_handler on_purged_;
  boost::asio::steady_timer timer_;
  bool running_ = false;
  std::uint64_t resume_after_ = 0;  // where the current pass goes on (0: a new pass)
  std::size_t purged_this_pass_ = 0;
  std::chrono::steady_clock::time_point pass_started_;
  stats stats_;
};

}  // namespace horao::app
