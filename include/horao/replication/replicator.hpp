#pragma once
// Peer replication (DESIGN §5, docs/replication.md): the hub that owns the
// per-peer state, turns the store's change log into deltas for each peer
// under the sync rule, applies the deltas peers send, and reports status.
//
// Invariants:
//  * per peer NODE (learned in the hello, not per connection) one cursor and
//    at most one active link; when two daemons dial each other, the link
//    dialed by the smaller node id (byte order) is kept, a newer link from
//    the same dialer replaces an older one, and the other is closed with
//    "duplicate link";
//  * nothing is queued per change: deltas are built from the change log when
//    a push is due and the peer has room (bytes in flight < max_inflight_bytes),
//    so a slow or stalled peer costs a bounded amount of memory;
//  * only locally durable changes are sent (seq <= what persistence has
//    acknowledged), so a crash can never make a peer hold sequence numbers
//    this daemon will hand out again;
//  * a delta is applied all-or-nothing against the CLOCK_OFFSET guard, and
//    acknowledged only once everything it changed is durable; acks and
//    rejects go back in the order the deltas came;
//  * a change received from P is not sent back to P (unless the merge made a
//    state P does not have, or P's session started from zero and P may have
//    lost its state); it is forwarded to every other peer;
//  * every handler runs on the store's io_context (one thread); no exception
//    escapes a handler; registries hold weak_ptr.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "horao/app/metrics.hpp"
#include "horao/replication/backoff.hpp"
#include "horao/replication/buckets.hpp"
#include "horao/replication/cursor_store.hpp"
#include "horao/replication/peer_cursor.hpp"
#include "horao/replication/peer_link.hpp"
#include "horao/replication/peer_token.hpp"
#include "horao/replication/protocol.hpp"
#include "horao/replication/sync_rule.hpp"
#include "horao/store/durability.hpp"
#include "horao/store/record_store.hpp"

namespace boost::asio::ssl {
class context;
}

namespace horao::replication {

class peer_dialer;

struct replicator_options {
  std::string node_id;             // NODE_ID
  std::vector<std::string> peers;  // PEERS
  std::string secret;              // PEER_SECRET (empty: no outbound, every inbound refused)
  sync_settings sync;              // SYNC_DELTA, SYNC_MAX
  double clock_offset_s = 0;       // CLOCK_OFFSET, for log lines only (the store's clock enforces it)

  std::size_t max_inflight_bytes = 4u << 20;    // unacknowledged delta bytes per peer
  std::size_t target_frame_bytes = 256u << 10;  // a delta closes once it reaches this size
  std::size_t max_frame_records = 4096;
  std::size_t max_scan_per_turn = 65536;   // change-log entries visited per turn of the loop
  std::size_t max_pending_replies = 4096;  // deltas a peer may have awaiting our ack

  std::chrono::milliseconds tick{100};
  std::chrono::milliseconds reconnect_initial{100};
  std::chrono::milliseconds reconnect_max{5'000};
  std::chrono::milliseconds reject_initial{250};
  std::chrono::milliseconds reject_max{30'000};
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds idle_timeout{20'000};
  std::int64_t token_window_s = 60;

  // wss://: extra trust anchors (PEM file; the daemon passes TLS_CERT, so a
  // cluster sharing one self-signed certificate or CA works), plus the
  // system's; verification can be switched off for tests only.
  std::string tls_ca_file;
  bool tls_verify = true;

  // The highest sequence persistence has acknowledged (persist::redis_store::
  // persisted_seq). Unset: durability.when_durable() decides, which is exact
  // for the in-memory store and PERSIST=sync.
  std::function<std::uint64_t()> persisted_seq;
};

// One row of GET /v1/cluster "peers" (API.md), plus what tests look at.
struct peer_status {
  std::string url;   // empty: inbound only
  std::string node;  // empty: not learned yet
  bool connected = false;
  std::uint64_t pending = 0;
  std::uint64_t acked_seq = 0;
  std::int64_t last_push_us = 0;   // unix microseconds, 0 = never
  std::string last_error;          // empty = none
  std::uint64_t received_seq = 0;  // the last seq of its log applied here
  std::size_t inflight_bytes = 0;
  std::uint64_t full_transfers = 0;
};

class replicator final : public link_handler, public std::enable_shared_from_this<replicator> {
 public:
  static std::shared_ptr<replicator> create(boost::asio::io_context& io, store::record_store& store,
                                            store::durability& durability, cursor_store& cursors,
                                            app::metric_registry& metrics, replicator_options options);
  replicator(boost::asio::io_context& io, store::record_store& store, store::durability& durability,
             cursor_store& cursors, app::metric_registry& metrics, replicator_options options);
  ~replicator() override;
  replicator(const replicator&) = delete;
  replicator& operator=(const replicator&) = delete;

  // After recovery (persisted cursors must be readable): reads or creates
  // the epoch, subscribes to the store, starts the tick and the dialers.
  void start();
  // Closes every link and stops dialing. Idempotent.
  void stop();
  // Graceful: pushes what is pending to every connected peer, waits for their
  // acks until `deadline`, then stop() and done().
  void shutdown(std::chrono::steady_clock::duration deadline, std::function<void()> done);

  // POST /v1/cluster/sync: push to every connected peer now.
  void sync_now();
  // Persistence acknowledged more changes (persist::redis_store::on_persisted):
  // they may go out now rather than at the next poll of persisted_seq.
  void persisted_advanced() { kick(); }
  // GET /v1/cluster "peers".
  nlohmann::json peers_json() const;
  std::vector<peer_status> status() const;

  // Inbound: decides an upgrade request's token. ok: `node` and `nonce` are
  // set; otherwise the refusal: 401 (token) or 503 (not started yet: the
  // persisted cursors are not loaded, or shutting down).
  struct admission {
    bool ok = false;
    int status = 401;
    std::string node;
    std::string nonce;
    std::string message;
  };
  admission admit(std::string_view token, std::string_view remote_address);

  const replicator_options& options() const { return options_; }
  std::uint64_t epoch() const { return epoch_; }
  std::uint64_t durable_seq() const { return durable_seq_; }
  boost::asio::io_context& io() { return io_; }
  link_options link_settings() const;
  std::weak_ptr<link_handler> handler() { return weak_from_this(); }

  // ---- link_handler ----
  void on_link_open(const std::shared_ptr<peer_link>& link) override;
  void on_link_frame(const std::shared_ptr<peer_link>& link, std::string_view bytes) override;
  void on_link_drained(const std::shared_ptr<peer_link>& link) override;
  void on_link_closed(const std::shared_ptr<peer_link>& link, std::string_view reason) override;

 private:
  using clock = std::chrono::steady_clock;

  // What we owe a peer in answer to its deltas, in order.
  struct reply {
    std::uint64_t id;
    std::uint64_t to_seq;
    bool ready = false;
    bool reject = false;
    reject_message rejection;
  };
  enum class recv_mode { normal, reject_queued, reject_sent };

  struct peer {
    std::string node;
    crdt::node_id node_ref = 0;  // interned
    peer_cursor cursor;
    std::weak_ptr<peer_link> link;
    std::uint64_t link_id = 0;
    std::uint64_t session = 0;  // increments with every activation and deactivation

    // sender
    // Frames on the wire are contiguous: the next delta starts where the
    // last one ended (wire_from), so ranges skipped without a frame are
    // covered by the next frame; after a reject, from the last ack received.
    std::uint64_t wire_from = 0;
    std::uint64_t wire_acked = 0;
    std::int64_t last_frame_us = 0;
    std::uint64_t peer_epoch = 0;
    std::uint64_t no_skip_up_to = 0;  // entries <= this are sent even if they came from the peer
    // Comparing whole states: 1 = waiting for the peer's bucket digests,
    // 2 = waiting for its per-key hashes of the differing buckets.
    int comparing = 0;
    std::uint32_t bucket_count = 0;
    std::uint64_t peer_records = 0;
    bucket_filter filter;
    bool push_wanted = false;
    bool push_counted = false;
    std::int64_t last_push_steady_us = 0;
    std::int64_t last_push_wall_us = 0;
    std::int64_t paused_until_us = 0;
    backoff reject_backoff;
    std::string last_error;
    std::int64_t last_error_us = 0;
    std::uint64_t persisted_acked = 0;
    std::uint64_t full_transfers = 0;

    // receiver
    std::uint64_t recv_epoch = 0;
    std::uint64_t recv_seq = 0;  // durable
    std::uint64_t expected_from = 0;
    std::uint64_t last_ack_sent = 0;
    recv_mode mode = recv_mode::normal;
    std::deque<reply> replies;
    std::uint64_t next_reply_id = 1;

    peer(std::string n, std::size_t inflight, std::chrono::milliseconds ri, std::chrono::milliseconds rm)
        : node(std::move(n)), cursor(inflight), reject_backoff(ri.count(), rm.count()) {}
    std::shared_ptr<peer_link> active() const {
      auto l = link.lock();
      return l && l->open() ? l : nullptr;
    }
  };

  struct link_info {
    std::weak_ptr<peer_link> link;
    bool hello = false;  // the peer's hello arrived
    std::string node;    // after the hello
    std::int64_t opened_us = 0;
  };

  struct url_entry {
    std::string url;
    std::shared_ptr<peer_dialer> dialer;
    std::string node;
    std::string last_error;
    std::int64_t last_error_us = 0;
    bool self = false;  // the URL reaches this daemon itself: stop dialing
  };

  peer& peer_for(const std::string& node);
  hello_message make_hello(const peer& p, const std::shared_ptr<peer_link>& link);
  void send(peer& p, const message& m);
  void send_frame(peer& p, frame f);

  void handle_hello(const std::shared_ptr<peer_link>& link, link_info& info, hello_message h);
  void activate(peer& p, const std::shared_ptr<peer_link>& link, const hello_message& h);
  void deactivate(peer& p, std::string_view reason, bool error);
  void protocol_error(const std::shared_ptr<peer_link>& link, const std::string& why);

  // receiver
  void handle_deltas(peer& p, deltas_message d);
  void queue_reject(peer& p, reject_reason reason, std::string message, std::uint64_t to_seq);
  void on_durable(const std::string& node, std::uint64_t session, std::uint64_t reply_id, bool ok);
  void flush_replies(peer& p);
  void handle_bucket_request(peer& p, const bucket_request_message& m);
  void handle_keys_request(peer& p, const keys_request_message& m);

  // sender
  void handle_ack(peer& p, const ack_message& a);
  void handle_reject(peer& p, const reject_message& r);
  void handle_buckets(peer& p, const buckets_message& b);
  void handle_keys(peer& p, const keys_message& k);
  void evaluate(peer& p, std::int64_t now_us);
  void pump(peer& p);
  void persist_acked(peer& p);
  void sync_cursor(peer& p, std::int64_t now);

  void kick();
  void on_tick();
  void tick_once();
  void refresh_durable();
  void set_error(peer& p, std::string error);
  void set_url_error(const std::string& url, std::string error);
  url_entry* url_of(const std::string& url);
  bool dial_wanted(const std::string& url) const;
  void describe_metrics();
  void on_scrape(app::metric_registry& m);
  void check_shutdown();
  std::int64_t now_us() const;
  static std::int64_t wall_now_us();

  boost::asio::io_context& io_;
  store::record_store& store_;
  store::durability& durability_;
  cursor_store& cursors_;
  app::metric_registry& metrics_;
  replicator_options options_;
  crdt::node_id self_ref_ = 0;
  std::uint64_t epoch_ = 0;
  peer_token_verifier verifier_;
  std::shared_ptr<boost::asio::ssl::context> tls_client_;

  std::map<std::string, peer, std::less<>> peers_;
  std::map<std::uint64_t, link_info> links_;
  std::vector<url_entry> urls_;

  std::optional<store::record_store::subscription> subscription_;
  boost::asio::steady_timer tick_timer_;
  bool kick_posted_ = false;
  bool started_ = false;
  bool stopped_ = false;
  std::uint64_t durable_seq_ = 0;
  bool durable_wait_ = false;

  // graceful shutdown
  std::function<void()> shutdown_done_;
  clock::time_point shutdown_deadline_;
};

}  // namespace horao::replication
