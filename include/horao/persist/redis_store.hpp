#pragma once
// Persistence of the record store in Redis (DESIGN §4, docs/persistence.md):
// recovery at start, then group commit of every change, and the durability
// answers the API needs.
//
// Layout under P = REDIS_PREFIX (default "horao:"):
//   P r:<kind>/<id>  string: CBOR [seq, record state] (entry_codec.hpp, format 2)
//   P meta           hash: format (2), node_id, seq (highest sequence handed
//                    out when last written), persisted (every change <= it is
//                    in Redis), purged (the store's purge horizon: tombstones
//                    up to it may be gone from the log)
//   P peers          hash: <peer node id> -> acknowledged sequence (decimal)
//
// Invariants:
//  * changes coalesce per key (a dirty set) and go out together, oldest first,
//    as one pipelined MULTI / MSET / DEL / HSET meta / HSET peers / EXEC of at
//    most max_batch_keys keys or about max_batch_bytes bytes. At most
//    max_batches_in_flight batches are in flight (pipelined on the one
//    connection, so Redis applies and answers them in order); while one is in
//    flight, the changes made meanwhile go out as the next. After a failed
//    batch, those sent after it never advance persisted_seq() (their keys are
//    written, but the failed keys are older and go out again first).
//  * persisted_seq() only grows, and every change with a sequence <= it is
//    acknowledged by Redis (whole merged states, so writing a key again, or
//    replaying a failed batch, is harmless). A failed batch puts its keys back.
//  * when_durable(seq, done) calls done exactly once: true once persisted_seq()
//    >= seq (PERSIST=sync) or at once (PERSIST=async); false when that has not
//    happened within durable_timeout, or on stop(). false means "not
//    acknowledged yet", not "not applied": the change stays in memory and is
//    written when Redis is back.
//  * accepting_writes() is false, with a reason, while loading, after a refusal,
//    and in sync mode while Redis is not connected, is being re-checked after a
//    reconnect, or refuses the last batch (out of memory, read-only replica...).
//  * loading never uses KEYS: SCAN in bounded chunks with pipelined MGET.
//    Corrupt or foreign entries are logged with their key, counted in the
//    report and in horao_redis_load_skipped_total, and skipped; a newer format
//    version or another node's meta refuses the start (report.ok == false).
//  * the record_store must outlive this object, or stop() must be called
//    first; everything runs on the io_context's thread.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "horao/app/config.hpp"
#include "horao/persist/redis_connection.hpp"
#include "horao/store/durability.hpp"
#include "horao/store/record_store.hpp"

namespace horao::app {
class metric_registry;
}

namespace horao::persist {

struct redis_store_options {
  std::string prefix = "horao:";                     // REDIS_PREFIX
  std::string node_id;                               // NODE_ID: claimed in meta, checked at start
  app::persist_mode mode = app::persist_mode::sync;  // PERSIST
  std::chrono::milliseconds command_timeout{2000};   // REDIS_TIMEOUT_MS: a batch or a load chunk
  std::chrono::milliseconds durable_timeout{0};      // when_durable deadline; 0 = 3 x command_timeout
  std::size_t max_batch_keys = 10000;
  std::size_t max_batch_bytes = 4u << 20;
  // Two batches in flight keep the event loop busy while Redis answers the
  // first (group commit then waits for Redis only when everything waits).
  std::size_t max_batches_in_flight = 2;
  std::size_t load_chunk = 1000;                 // SCAN COUNT and keys per MGET
  std::chrono::milliseconds retry_initial{100};  // after a batch that Redis refused
  std::chrono::milliseconds retry_max{5000};
};

struct load_report {
  bool ok = false;  // false: refused; `error` says why and how to fix it
  std::string error;
  std::size_t records = 0;  // records in the store after loading
  std::size_t entries = 0;  // record entries read and restored
  std::size_t skipped = 0;  // corrupt or foreign entries, each logged
  std::vector<std::pair<std::string, std::string>> skipped_examples;  // (printable key, reason), first 100
  std::size_t peers = 0;                                              // peer cursors loaded
  std::uint64_t seq = 0;                                              // the store's sequence after loading
  std::chrono::steady_clock::duration duration{};
  std::string summary() const;  // one line for the log
};

class redis_store final : public store::durability, public std::enable_shared_from_this<redis_store> {
 public:
  using load_handler = std::function<void(const load_report&)>;

  struct stats {
    std::uint64_t batches_ok = 0;
    std::uint64_t batches_failed = 0;
    std::uint64_t keys_written = 0;  // SETs and DELs in acknowledged batches
    std::size_t last_batch_keys = 0;
    std::size_t max_batch_keys = 0;
  };

  redis_store(boost::asio::io_context& io, store::record_store& store,
              std::shared_ptr<redis_connection> connection, redis_store_options options,
              app::metric_registry* metrics = nullptr);
  redis_store(const redis_store&) = delete;
  redis_store& operator=(const redis_store&) = delete;
  ~redis_store() override;

  static std::shared_ptr<redis_store> create(boost::asio::io_context& io, store::record_store& store,
                                             std::shared_ptr<redis_connection> connection,
                                             redis_store_options options,
                                             app::metric_registry* metrics = nullptr) {
    return std::make_shared<redis_store>(io, store, std::move(connection), std::move(options), metrics);
  }

  // Subscribes to the store, starts the connection, loads everything (waiting
  // for Redis, with backoff, as long as it takes), claims the prefix for this
  // node, then calls `loaded` once: report.ok true and writes are persisted
  // from then on, or false (refused: the daemon should exit non-zero).
  void start(load_handler loaded);
  // Stops writing, answers every waiter false, stops the connection. Idempotent.
  void stop();
  // Graceful shutdown: writes what is dirty; done(true) once nothing is
  // pending, done(false) at the deadline (what is left is lost if the process
  // exits now).
  void flush(std::chrono::steady_clock::duration deadline, std::function<void(bool ok)> done);

  // ---- store::durability ----
  void when_durable(std::uint64_t seq, std::function<void(bool ok)> done) override;
  bool accepting_writes(std::string* reason) const override;

  // A tombstone the store purged (app::tombstone_gc hands every purged key
  // here, in the handler that purged it): its entry is deleted with the next
  // batch, unless the key was written again meanwhile (the batch writes what
  // the store holds when it is built).
  void purged(std::string_view key);

  // ---- replication cursors (loaded at start, written with the next batch) ----
  std::optional<std::uint64_t> peer_cursor(std::string_view peer) const;
  const std::map<std::string, std::uint64_t, std::less<>>& peer_cursors() const { return cursors_; }
  void set_peer_cursor(std::string_view peer, std::uint64_t seq);

  // Called after every acknowledged batch with the new persisted_seq()
  // (replication ships only what is persisted; see the layout doc).
  void on_persisted(std::function<void(std::uint64_t seq)> fn) {
    persisted_observers_.push_back(std::move(fn));
  }

  bool loaded() const { return phase_ == phase::ready; }
  std::uint64_t persisted_seq() const { return persisted_seq_; }
  std::size_t pending_keys() const;
  bool batch_in_flight() const { return !in_flight_.empty(); }
  std::size_t batches_in_flight() const { return in_flight_.size(); }
  // Nothing dirty, no cursor to write, no batch in flight.
  bool settled() const { return nothing_to_write() && in_flight_.empty(); }
  const stats& statistics() const { return stats_; }
  const redis_store_options& options() const { return options_; }
  const std::shared_ptr<redis_connection>& connection() const { return connection_; }

  // Key names, for tests and tools.
  // REDIS_PREFIX + "r:", what every record's key starts with.
  std::string_view record_prefix() const { return record_prefix_; }
  std::string meta_key() const { return options_.prefix + "meta"; }
  std::string peers_key() const { return options_.prefix + "peers"; }

 private:
  enum class phase { idle, loading, ready, refused, stopped };

  struct batch {
    std::vector<std::pair<std::string, std::uint64_t>> keys;  // key, first dirty seq
    std::map<std::string, std::uint64_t, std::less<>> cursors;
    std::uint64_t covered = 0;  // persisted_seq once acknowledged
    bool advances = true;       // false: an earlier batch failed after this one was sent
    std::chrono::steady_clock::time_point started;
  };
  struct waiter {
    std::uint64_t seq;
    std::chrono::steady_clock::time_point deadline;
    std::function<void(bool)> done;
  };
  struct flush_waiter {
    std::uint64_t id;
    std::function<void(bool)> done;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  struct load_state {
    std::uint64_t generation = 0;
    bool in_progress = false;
    std::chrono::steady_clock::time_point started;
    std::uint64_t meta_seq = 0;
    std::uint64_t purged = 0;  // the purge horizon stored in meta
    std::uint64_t max_record_seq = 0;
    std::size_t entries = 0;
    std::size_t duplicates = 0;
    std::set<std::string, std::less<>> skipped;  // distinct keys (a restarted scan sees them again)
    std::vector<std::pair<std::string, std::string>> examples;
  };

  // ---- loading ----
  void on_connection_state(bool up);
  void do_load();
  void on_meta(std::uint64_t generation, redis_result result);
  void do_scan_step(std::uint64_t generation, std::vector<std::string> fetch,
                    std::optional<std::string> cursor);
  void on_scan_step(std::uint64_t generation, std::vector<std::string> fetched, bool scanned,
                    redis_result result);
  bool take_scan_reply(const redis_reply& reply, std::vector<std::string>& keys,
                       std::optional<std::string>& cursor);
  void restore_entry(const std::string& redis_key, const redis_reply& value);
  void skip(std::string_view redis_key, std::string reason);
  void do_claim(std::uint64_t generation);
  void on_claim(std::uint64_t generation, redis_result result);
  void refuse(std::string message);
  void finish_load();

  // ---- after a reconnect ----
  void do_verify();
  void on_verify(std::uint64_t generation, redis_result result);

  // ---- writing ----
  void on_change(const store::change& c);
  void mark_dirty(std::string_view key, std::uint64_t first_seq);
  void schedule_batch();
  void do_batch();
  void on_batch(redis_result result);
  void retry_later();
  void complete_waiters();
  void on_waiter_deadline(const boost::system::error_code& ec);
  void arm_waiter_timer();
  void check_flush();
  bool nothing_to_write() const { return dirty_.empty() && cursor_updates_.empty(); }
  // Another batch may be sent now: room in the pipeline, and something to
  // write (or, while Redis refuses batches, an empty one to probe it with
  // when none is in flight).
  bool may_send_batch() const;
  // The current connection was checked (loaded from, or verified after a
  // reconnect): nothing is written over a connection before that.
  bool verified() const;
  bool can_write() const;

  boost::asio::io_context& io_;
  store::record_store& store_;
  std::shared_ptr<redis_connection> connection_;
  redis_store_options options_;
  std::string record_prefix_;
  app::metric_registry* metrics_;

  phase phase_ = phase::idle;
  std::string refusal_;
  load_handler loaded_;
  load_state load_;
  std::optional<store::record_store::subscription> subscription_;

  // Dirty keys: key -> sequence of its oldest change not yet in Redis
  // (UINT64_MAX for a purge, which holds back no sequence), and the same
  // ordered oldest first; views point into dirty_'s keys.
  std::unordered_map<std::string, std::uint64_t, store::string_hash, std::equal_to<>> dirty_;
  std::set<std::pair<std::uint64_t, std::string_view>> dirty_order_;
  std::map<std::string, std::uint64_t, std::less<>> cursors_;         // known peer cursors
  std::map<std::string, std::uint64_t, std::less<>> cursor_updates_;  // not yet written
  std::deque<batch> in_flight_;  // oldest first: Redis answers in this order
  // The batch being written, kept to reuse their buffers: each picked key's
  // record (null: purged) and entry size, and the pipeline's text.
  std::vector<std::pair<const store::stored_record*, std::size_t>> picked_;
  resp_pipeline batch_text_;
  bool batch_posted_ = false;
  std::uint64_t verify_generation_ = 0;
  std::uint64_t verified_connection_ = 0;  // connection_->connections() when last checked
  std::uint64_t persisted_seq_ = 0;
  std::vector<std::function<void(std::uint64_t)>> persisted_observers_;
  std::string batch_refused_;  // Redis's error for the last batch, while it keeps refusing
  std::uint64_t failures_in_a_row_ = 0;
  boost::asio::steady_timer retry_timer_;
  bool retry_pending_ = false;

  std::deque<waiter> waiters_;  // by deadline (they all wait durable_timeout)
  boost::asio::steady_timer waiter_timer_;
  bool waiter_timer_armed_ = false;
  std::vector<flush_waiter> flushes_;
  std::uint64_t next_flush_id_ = 1;
  stats stats_;
};

}  // namespace horao::persist
