#include "horao/app/tombstone_gc.hpp"

#include <algorithm>

#include "horao/app/logging.hpp"
#include "horao/app/metrics.hpp"

namespace horao::app {

namespace {
constexpr std::string_view metric_purged = "horao_tombstones_purged_total";
constexpr std::string_view metric_tombstones = "horao_store_tombstones";
}  // namespace

tombstone_gc_options tombstone_gc_options::for_ttl(std::chrono::seconds ttl) {
  tombstone_gc_options o;
  o.ttl = ttl;
  const auto tenth = std::chrono::duration_cast<std::chrono::milliseconds>(ttl) / 10;
  o.pass_interval = std::clamp(tenth, std::chrono::milliseconds(1000), std::chrono::milliseconds(60'000));
  return o;
}

tombstone_gc::tombstone_gc(boost::asio::io_context& io, store::record_store& store,
                           tombstone_gc_options options, metric_registry* metrics)
    : io_(io), store_(store), options_(options), metrics_(metrics), timer_(io) {
  options_.scan_per_tick = std::max<std::size_t>(1, options_.scan_per_tick);
  if (metrics_) {
    metrics_->describe(metric_purged, metric_type::counter,
                       "Tombstones purged after TOMBSTONE_TTL (their Redis entries are deleted too)");
    metrics_->describe(metric_tombstones, metric_type::gauge, "Dead records held, waiting for TOMBSTONE_TTL");
    metrics_->counter_add(metric_purged, {}, 0);  // the series exists from the start
    metrics_->on_scrape([&store](metric_registry& m) {
      m.gauge_set(metric_tombstones, static_cast<double>(store.tombstones()));
    });
  }
}

void tombstone_gc::start() {
  if (running_) return;
  running_ = true;
  resume_after_ = 0;
  log_info("tombstone gc started",
           {{"ttl_s", static_cast<std::int64_t>(options_.ttl.count())},
            {"pass_interval_ms", static_cast<std::int64_t>(options_.pass_interval.count())}});
  schedule(std::chrono::milliseconds(0));
}

void tombstone_gc::stop() {
  running_ = false;
  timer_.cancel();
}

void tombstone_gc::schedule(std::chrono::milliseconds delay) {
  timer_.expires_after(delay);
  timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->tick();
  });
}

void tombstone_gc::tick() {
  if (!running_) return;
  ++stats_.ticks;
  if (resume_after_ == 0) {
    pass_started_ = std::chrono::steady_clock::now();
    purged_this_pass_ = 0;
  }
  const std::int64_t ttl_us = static_cast<std::int64_t>(options_.ttl.count()) * 1'000'000;
  const std::int64_t cutoff = store_.clock().now_us() - ttl_us;
  const auto progress = store_.purge_tombstones_step(resume_after_, cutoff, options_.scan_per_tick,
                                                     [this](std::string_view key) {
                                                       if (on_purged_) on_purged_(key);
                                                     });
  purged_this_pass_ += progress.purged;
  stats_.purged += progress.purged;
  if (metrics_ && progress.purged > 0)
    metrics_->counter_add(metric_purged, {}, static_cast<double>(progress.purged));

  if (!progress.finished) {
    resume_after_ = progress.next;
    return schedule(options_.tick_gap);
  }
  resume_after_ = 0;
  ++stats_.passes;
  if (purged_this_pass_ > 0) {
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                            pass_started_);
    log_info("tombstone gc: purged tombstones older than TOMBSTONE_TTL",
             {{"purged", static_cast<std::int64_t>(purged_this_pass_)},
              {"left", static_cast<std::int64_t>(store_.tombstones())},
              {"pass_ms", static_cast<std::int64_t>(took.count())}});
  }
  schedule(options_.pass_interval);
}

}  // namespace horao::app
