#include "horao/api/watch_hub.hpp"

#include <algorithm>

#include "horao/api/changes.hpp"

namespace horao::api {

// ---- feed ----------------------------------------------------------------------

watch_feed::watch_feed(watch_hub& hub, watch_request request)
    : hub_(&hub),
      request_(std::move(request)),
      cursor_(request_.since.value_or(hub.ctx_.store.seq())),
      replayable_from_(hub.ctx_.store.oldest_replayable()),
      replaying_(request_.since.has_value()) {}

watch_feed::~watch_feed() {
  if (hub_) hub_->leave(this);
}

bool watch_feed::wants(std::string_view kind, std::string_view id, const store::stored_record& entry) const {
  if (!request_.kinds.empty() &&
      std::find(request_.kinds.begin(), request_.kinds.end(), kind) == request_.kinds.end())
    return false;
  return may_see_change(request_.who, kind, id, entry);
}

template <class Render>
void watch_feed::offer(std::uint64_t seq, std::string_view key, const store::stored_record& entry,
                       Render& render) {
  // In replay the change log has it, above the cursor: a later chunk sends it.
  if (replaying_ || end_ != end::none || seq <= cursor_) return;
  cursor_ = seq;
  const auto [kind, id] = store::split_key(key);
  if (!wants(kind, id, entry)) return;
  watch_message m = render();
  if (queued_bytes_ + m->size() > watch_queue_max_bytes) {
    const std::size_t queued = queued_bytes_;
    finish(end::too_slow, "watcher too slow: " + std::to_string(queued) + " bytes queued (limit " +
                              std::to_string(watch_queue_max_bytes) + ")");
    if (hub_) hub_->count_slow();
    return;
  }
  const bool was_empty = queue_.empty();
  push(std::move(m));
  if (was_empty) wake();
}

void watch_feed::push(watch_message m) {
  queued_bytes_ += m->size();
  queue_.push_back(std::move(m));
}

watch_message watch_feed::next() {
  if (end_ != end::none) return nullptr;
  if (queue_.empty() && replaying_) refill();
  if (queue_.empty()) return nullptr;
  watch_message m = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= m->size();
  return m;
}

void watch_feed::refill() {
  if (!hub_) return finish(end::hub_gone, "the daemon is shutting down");
  const store::record_store& store = hub_->ctx_.store;
  // A tombstone above the cursor purged since the watch began: a deletion
  // the watcher should see may be gone. (Purges from before it began are
  // no gap: the request was checked against them, and from 0 nothing held
  // can be missing a deletion.)
  const std::uint64_t replayable = store.oldest_replayable();
  if (replayable != replayable_from_ && replayable > cursor_)
    return finish(end::resync,
                  "resync required: the change log no longer reaches back to " + std::to_string(cursor_));
  std::size_t scanned = 0;
  std::size_t bytes = 0;
  bool stopped = false;
  store.changes_since(cursor_,
                      [&](std::uint64_t seq, std::string_view key, const store::stored_record& entry) {
                        if (scanned == watch_replay_chunk_scan || bytes >= watch_replay_chunk_bytes) {
                          stopped = true;
                          return false;
                        }
                        ++scanned;
                        cursor_ = seq;
                        const auto [kind, id] = store::split_key(key);
                        if (!wants(kind, id, entry)) return true;
                        auto text = std::make_shared<std::string>();
                        append_change_item(*text, hub_->ctx_, seq, key, entry);
                        bytes += text->size();
                        push(std::move(text));
                        return true;
                      });
  if (stopped) return;
  // The whole log is behind the cursor: every later change is offered live.
  replaying_ = false;
  cursor_ = std::max(cursor_, store.seq());
}

void watch_feed::finish(end why, std::string reason) {
  if (end_ != end::none) return;
  end_ = why;
  end_reason_ = std::move(reason);
  queue_.clear();
  queued_bytes_ = 0;
  wake();
}

void watch_feed::wake() {
  if (wake_) wake_();
}

// ---- hub -----------------------------------------------------------------------

watch_hub::watch_hub(const router_context& ctx) : ctx_(ctx) {
  ctx_.metrics.describe("horao_watchers", app::metric_type::gauge, "Open /v1/watch WebSockets");
  ctx_.metrics.describe("horao_watchers_closed_slow_total", app::metric_type::counter,
                        "Watchers closed because their queue exceeded " +
                            std::to_string(watch_queue_max_bytes) + " bytes (they did not read fast enough)");
  ctx_.metrics.counter_add("horao_watchers_closed_slow_total", {}, 0);
  publish_count();
  subscription_ = ctx_.store.subscribe([this](const store::change& c) { on_change(c); });
}

watch_hub::~watch_hub() {
  ctx_.store.unsubscribe(subscription_);
  for (watch_feed* f : feeds_) {
    if (!f) continue;
    f->hub_ = nullptr;
    f->finish(watch_feed::end::hub_gone, "the daemon is shutting down");
  }
}

std::unique_ptr<watch_feed> watch_hub::open(watch_request request) {
  std::unique_ptr<watch_feed> feed(new watch_feed(*this, std::move(request)));
  feeds_.push_back(feed.get());
  ++count_;
  publish_count();
  return feed;
}

void watch_hub::leave(watch_feed* feed) {
  auto it = std::find(feeds_.begin(), feeds_.end(), feed);
  if (it == feeds_.end()) return;
  if (notifying_) {
    *it = nullptr;
  } else {
    *it = feeds_.back();
    feeds_.pop_back();
  }
  --count_;
  publish_count();
}

void watch_hub::on_change(const store::change& c) {
  if (count_ == 0) return;
  watch_message rendered;
  auto render = [&]() -> watch_message {
    if (!rendered) {
      auto text = std::make_shared<std::string>();
      append_change_item(*text, ctx_, c.entry.seq, c.key, c.entry);
      rendered = std::move(text);
    }
    return rendered;
  };
  notifying_ = true;
  // Feeds that join during the loop (none do: wake only schedules) start
  // with the next change.
  const std::size_t n = feeds_.size();
  for (std::size_t i = 0; i < n; ++i)
    if (feeds_[i]) feeds_[i]->offer(c.entry.seq, c.key, c.entry, render);
  notifying_ = false;
  std::erase(feeds_, nullptr);
}

void watch_hub::count_slow() {
  ctx_.metrics.counter_add("horao_watchers_closed_slow_total");
}

void watch_hub::publish_count() {
  ctx_.metrics.gauge_set("horao_watchers", static_cast<double>(count_));
}

}  // namespace horao::api
