#pragma once
// The /v1/watch feed without sockets: one store subscription for all
// watchers, and per watcher a bounded queue of messages, each exactly an item
// of /v1/changes (append_change_item). net/watch_session writes the queue to
// its WebSocket; the tests drive it directly.
//
// A feed starts in replay (with `since`) or live (without). Replay reads the
// change log after its cursor in chunks (at most watch_replay_chunk_bytes of
// messages or watch_replay_chunk_scan entries looked at per refill), only
// when its queue is empty, so the log is never copied whole; changes made
// meanwhile are found by the following chunks (their sequence is above the
// cursor). When a chunk reaches the end of the log the feed turns live: from
// then on the hub offers it every change as it happens.
//
// Invariants:
//  * a watcher receives every change it may see (may_see_change, its kinds)
//    with seq > since, in sequence order, each at most once; replayed changes
//    are coalesced per key (the newest, as /v1/changes shows them), live ones
//    are not;
//  * a feed's queue never holds more than watch_queue_max_bytes: the live
//    change that would overflow it ends the feed (end::too_slow), drops the
//    queue and counts horao_watchers_closed_slow_total; the watcher is then
//    closed, not buffered for;
//  * a replay that tombstone purges overtake (a tombstone above its cursor
//    purged after the watch began) ends with end::resync rather than skip
//    a deletion silently;
//  * a message is rendered once per change however many watchers get it
//    (shared, immutable);
//  * the hub holds raw pointers to its feeds, each feed one to its hub: a
//    feed leaves the hub when destroyed; a hub destroyed first detaches its
//    feeds (end::hub_gone), which then never touch the store again. So a
//    feed may outlive the hub, the store and the router (a session destroyed
//    with the io_context);
//  * `wake` is called synchronously from inside a store change (or a refill):
//    it must only schedule work, never write to the store or destroy the feed;
//  * single-threaded: the store's loop.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "horao/api/context.hpp"
#include "horao/api/watch.hpp"

namespace horao::api {

// Bytes of messages one watcher may have queued (not counting the one being
// written): a watcher this far behind is closed. About ten of the largest
// resources (MAX_BODY_BYTES 1 MiB), thousands of ordinary ones.
inline constexpr std::size_t watch_queue_max_bytes = 4u << 20;
// One replay refill: at most this many bytes of messages (a refill always
// takes at least one) and this many change-log entries looked at.
inline constexpr std::size_t watch_replay_chunk_bytes = 256u << 10;
inline constexpr std::size_t watch_replay_chunk_scan = 10'000;

using watch_message = std::shared_ptr<const std::string>;

class watch_hub;

class watch_feed {
 public:
  enum class end { none, too_slow, resync, hub_gone };

  watch_feed(const watch_feed&) = delete;
  watch_feed& operator=(const watch_feed&) = delete;
  ~watch_feed();

  // Called when there is something new: a message queued into an empty
  // queue, or the feed ended. See the invariants.
  void on_wake(std::function<void()> wake) { wake_ = std::move(wake); }

  // The next message to send, null when there is none now. In replay, an
  // empty queue is refilled first; a refill that found nothing visible
  // leaves replaying() true: call again (later, to let the loop breathe).
  watch_message next();

  bool replaying() const { return replaying_; }
  end ended() const { return end_; }
  // Why it ended, for the WebSocket close reason ("" while it has not).
  const std::string& end_reason() const { return end_reason_; }
  std::size_t queued_bytes() const { return queued_bytes_; }
  std::size_t queued_messages() const { return queue_.size(); }
  // The sequence of the last change queued (or looked at in replay).
  std::uint64_t cursor() const { return cursor_; }

 private:
  friend class watch_hub;
  watch_feed(watch_hub& hub, watch_request request);

  bool wants(std::string_view kind, std::string_view id, const store::stored_record& entry) const;
  // Live: the hub offers a change; `render` makes (once) the shared message.
  template <class Render>
  void offer(std::uint64_t seq, std::string_view key, const store::stored_record& entry, Render& render);
  void push(watch_message m);
  void refill();
  void finish(end why, std::string reason);
  void wake();

  watch_hub* hub_;
  watch_request request_;
  std::deque<watch_message> queue_;
  std::size_t queued_bytes_ = 0;
  std::uint64_t cursor_ = 0;
  std::uint64_t replayable_from_ = 0;  // the store's oldest_replayable() when the watch began
  bool replaying_ = false;
  end end_ = end::none;
  std::string end_reason_;
  std::function<void()> wake_;
};

class watch_hub {
 public:
  // Subscribes to ctx.store and registers the watch metrics (horao_watchers,
  // horao_watchers_closed_slow_total) on ctx.metrics. `ctx` outlives the hub.
  explicit watch_hub(const router_context& ctx);
  watch_hub(const watch_hub&) = delete;
  watch_hub& operator=(const watch_hub&) = delete;
  ~watch_hub();

  // A new feed for an admitted request (parse_watch_request).
  std::unique_ptr<watch_feed> open(watch_request request);
  std::size_t watchers() const { return count_; }
  const router_context& context() const { return ctx_; }

 private:
  friend class watch_feed;
  void on_change(const store::change& c);
  void leave(watch_feed* feed);
  void count_slow();
  void publish_count();

  const router_context& ctx_;
  store::record_store::subscription subscription_;
  // Null slots are feeds that left during a notification, swept after it.
  std::vector<watch_feed*> feeds_;
  std::size_t count_ = 0;
  bool notifying_ = false;
};

}  // namespace horao::api
