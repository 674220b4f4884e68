#pragma once
// The daemon's wiring (DESIGN §1, §8): one io_context on one thread drives the
// clock, the store, persistence, the router, the HTTP listener and peer
// replication; signals start a graceful stop.
//
// Invariants:
//  * construction builds the pieces but opens nothing; run() listens, runs the
//    start-up steps in order, then turns ready (/readyz 200, systemd READY=1),
//    and returns the process's exit status when the loop ends;
//  * a listener that cannot bind ends run() with a non-zero status and a log
//    line naming the address and port; it never carries on without it;
//  * SIGTERM/SIGINT: stop accepting, let the requests in progress finish and
//    close idle connections (within `drain_deadline`), run the shutdown steps
//    (flush Redis, peers) within what is left of it, exit 0; a second signal
//    exits at once;
//  * every piece is a member reachable through an accessor, constructed
//    before and destroyed after everything that uses it; the io_context is
//    destroyed last, so pending handlers never outlive what they reference.

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "horao/api/router.hpp"
#include "horao/app/config.hpp"
#include "horao/app/metrics.hpp"
#include "horao/crdt/clock.hpp"
#include "horao/domain/relations.hpp"
#include "horao/store/durability.hpp"
#include "horao/store/record_store.hpp"

namespace boost::asio::ssl {
class context;
}
namespace horao::persist {
class redis_store;
}
namespace horao::api {
class scheduler_service;
}
namespace horao::replication {
class cursor_store;
class replicator;
}  // namespace horao::replication
namespace horao::api {
class watch_hub;
}
namespace horao::net {
class connection_set;
class listener;
class upgrade_registry;
struct http_context;
}  // namespace horao::net

namespace horao::app {

class tombstone_gc;

class daemon {
 public:
  // A start-up step calls `done` once, with an empty string on success or the
  // reason it failed (the daemon then exits non-zero).
  using step_done = std::function<void(std::string error)>;
  using startup_step = std::function<void(step_done done)>;
  // A shutdown step calls `done` once it finished; it is abandoned when the
  // drain deadline passes first.
  using shutdown_step = std::function<void(std::function<void()> done)>;

  static constexpr std::chrono::seconds drain_deadline{10};

  explicit daemon(config settings);
  ~daemon();
  daemon(const daemon&) = delete;
  daemon& operator=(const daemon&) = delete;

  // Blocks until the daemon stopped; returns the exit status.
  int run();

  // Steps run on the loop after the listener is up and before readiness
  // (recovery from Redis, dialing peers), in the order added.
  void add_startup_step(std::string name, startup_step step);
  // Steps run after HTTP drained, in the order added (flush the last Redis
  // batch, push peers' pending deltas).
  void add_shutdown_step(std::string name, shutdown_step step);
  // Ends the daemon from inside (a fatal error of some module): graceful stop,
  // then `exit_status`.
  void request_stop(int exit_status, std::string why);

  bool ready() const { return ready_; }

  const config& settings() const { return config_; }
  boost::asio::io_context& io() { return io_; }
  crdt::hybrid_clock& clock() { return clock_; }
  store::record_store& store() { return store_; }
  domain::relation_index& relations() { return relations_; }
  api::scheduler_service& scheduler() { return *scheduler_; }
  store::durability& durability() { return *durability_; }
  metric_registry& metrics() { return metrics_; }
  api::router& router() { return *router_; }
  net::upgrade_registry& upgrades() { return *upgrades_; }
  net::connection_set& connections() { return *connections_; }

 private:
  struct named_startup_step {
    std::string name;
    startup_step step;
  };
  struct named_shutdown_step {
    std::string name;
    shutdown_step step;
  };

  void wire_persistence();
  // Builds the capacity index and the scheduler over the store and points
  // the router's scheduling hooks and routes at them (`context` is the
  // router's, before it is built).
  void wire_scheduler(api::router_context& context);
  void wire_replication();
  void wire_tombstone_gc();
  void wire_watch();
  void add_redis_flush_step();
  bool start_listening();
  void wait_for_signals();
  void run_startup_step(std::size_t index);
  void become_ready();
  void begin_shutdown(std::string why);
  void wait_for_connections();
  void run_shutdown_step(std::size_t index);
  void finish();

  config config_;
  boost::asio::io_context io_{1};  // first member: destroyed last

  crdt::system_time_source time_;
  crdt::hybrid_clock clock_;
  store::record_store store_;
  domain::relation_index relations_{store_};  // rebuild() after recovery
  // Capacity index and scheduler (wire_scheduler), subscribed to the store:
  // rebuild() after recovery, destroyed before the store.
  std::unique_ptr<api::scheduler_service> scheduler_;
  metric_registry metrics_;
  // The Redis store when REDIS_URL is set (declared after the store and the
  // metrics it uses, so it goes first), else memory_durability.
  std::shared_ptr<persist::redis_store> redis_;
  std::shared_ptr<store::durability> durability_;
  // Replication (always built: without PEERS and PEER_SECRET it only
  // answers /v1/peer with 401). Its cursors live in Redis's peers hash when
  // REDIS_URL is set; it is destroyed before the store and Redis it uses.
  std::unique_ptr<replication::cursor_store> cursors_;
  std::shared_ptr<replication::replicator> replicator_;
  // Purges tombstones after TOMBSTONE_TTL (started after recovery, stopped
  // at shutdown); destroyed before the store and Redis it uses.
  std::shared_ptr<tombstone_gc> tombstone_gc_;
  std::unique_ptr<api::router> router_;
  // /v1/watch: the store subscription behind every watcher; destroyed before
  // the router and the store it reads (watchers still open then are
  // detached, see api/watch_hub.hpp).
  std::shared_ptr<api::watch_hub> watch_hub_;

  std::unique_ptr<net::upgrade_registry> upgrades_;
  std::unique_ptr<net::connection_set> connections_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  std::unique_ptr<net::http_context> http_;
  std::shared_ptr<net::listener> listener_;

  boost::asio::signal_set signals_{io_};
  boost::asio::steady_timer shutdown_timer_{io_};
  std::chrono::steady_clock::time_point shutdown_deadline_;

  std::vector<named_startup_step> startup_steps_;
  std::vector<named_shutdown_step> shutdown_steps_;
  std::size_t shutdown_step_generation_ = 0;  // which step a late `done` belongs to
  bool ready_ = false;
  bool stopping_ = false;
  bool finished_ = false;
  int exit_status_ = 0;
};

}  // namespace horao::app
