#include "horao/app/daemon.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cmath>
#include <csignal>

#ifdef HORAO_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "horao/api/scheduler_service.hpp"
#include "horao/api/tokens.hpp"
#include "horao/api/watch_hub.hpp"
#include "horao/app/logging.hpp"
#include "horao/app/tombstone_gc.hpp"
#include "horao/net/connections.hpp"
#include "horao/net/http_session.hpp"
#include "horao/net/listener.hpp"
#include "horao/net/upgrade_registry.hpp"
#include "horao/net/watch_session.hpp"
#include "horao/persist/redis_connection.hpp"
#include "horao/persist/redis_endpoint.hpp"
#include "horao/persist/redis_store.hpp"
#include "horao/replication/cursor_store.hpp"
#include "horao/replication/peer_acceptor.hpp"
#include "horao/replication/replicator.hpp"

#ifndef HORAO_VERSION
#define HORAO_VERSION "0.1.0"
#endif

namespace horao::app {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// After the drain, the shutdown steps (flushes) get this long in all.
constexpr std::chrono::seconds flush_deadline{10};
// How often the drain looks whether the last connection has gone.
constexpr std::chrono::milliseconds drain_poll{20};

crdt::node_id intern_node(const std::string& id) {
  auto n = crdt::node_names().intern(id);
  if (!n) throw std::runtime_error("cannot intern the node id " + id);
  return *n;
}

void notify_systemd(const char* state) {
#ifdef HORAO_HAVE_SYSTEMD
  sd_notify(0, state);  // a no-op outside systemd (no NOTIFY_SOCKET)
#else
  (void)state;
#endif
}

std::string endpoint_text(const tcp::endpoint& ep) {
  const std::string a = ep.address().to_string();
  return (ep.address().is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(ep.port());
}

std::unique_ptr<asio::ssl::context> load_tls(const config& c) {
  namespace ssl = asio::ssl;
  auto tls = std::make_unique<ssl::context>(ssl::context::tls_server);
  tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  boost::system::error_code ec;
  tls->use_certificate_chain_file(c.tls_cert, ec);
  if (ec)
    throw config_error("TLS_CERT: expected a PEM certificate chain in \"" + c.tls_cert +
                       "\": " + ec.message());
  tls->use_private_key_file(c.tls_key, ssl::context::pem, ec);
  if (ec)
    throw config_error("TLS_KEY: expected the PEM private key of TLS_CERT in \"" + c.tls_key +
                       "\": " + ec.message());
  return tls;
}

std::shared_ptr<const api::token_table> load_tokens(const config& c) {
  if (c.api_tokens_file.empty()) return nullptr;  // open API (loopback, or ALLOW_OPEN)
  try {
    return std::make_shared<const api::token_table>(api::token_table::load(c.api_tokens_file));
  } catch (const api::token_error& e) {
    throw config_error(std::string("API_TOKENS_FILE: ") + e.what());
  }
}

}  // namespace

daemon::daemon(config settings)
    : config_(std::move(settings)),
      clock_(intern_node(config_.node_id), time_, std::llround(config_.clock_offset_s * 1e6)),
      store_(clock_),
      upgrades_(std::make_unique<net::upgrade_registry>()),
      connections_(std::make_unique<net::connection_set>()) {
  init_logging(config_.log_level, config_.log_fmt);
  wire_persistence();
  wire_replication();
  wire_tombstone_gc();
  // Last, so that it runs after replication's shutdown step: deltas peers
  // send while we push our last changes are persisted too.
  add_redis_flush_step();

  api::router_context context{.store = store_,
                              .durability = *durability_,
                              .metrics = metrics_,
                              .config = config_,
                              .relations = relations_,
                              .tokens = load_tokens(config_),
                              .loaded =
                                  [this](std::string* reason) {
                                    if (!ready_ && reason)
                                      *reason = "starting: start-up steps have not finished";
                                    return ready_;
                                  },
                              .peers = [this] { return replicator_->peers_json(); },
                              .sync_now = [this] { replicator_->sync_now(); }};
  wire_scheduler(context);
  router_ = std::make_unique<api::router>(std::move(context));

  net::http_limits limits;
  limits.body_bytes = config_.max_body_bytes;
  http_ = std::make_unique<net::http_context>(
      net::http_context{*router_, *upgrades_, *connections_, metrics_, limits, nullptr});
  if (!config_.tls_cert.empty()) {
    tls_ = load_tls(config_);
    http_->tls = tls_.get();
  }

  wire_watch();

  net::describe_http_metrics(metrics_);
  metrics_.describe("horao_build_info", metric_type::gauge, "Always 1; labels: version and node id");
  metrics_.gauge_set("horao_build_info", {{"version", HORAO_VERSION}, {"node", config_.node_id}}, 1);
  metrics_.describe("horao_ready", metric_type::gauge,
                    "1 once start-up finished (what /readyz reports first)");
  metrics_.describe("horao_http_connections", metric_type::gauge,
                    "Open client connections (HTTP and WebSocket)");
  metrics_.on_scrape([this](metric_registry& m) {
    m.gauge_set("horao_ready", ready_ ? 1 : 0);
    m.gauge_set("horao_http_connections", static_cast<double>(connections_->live()));
  });
}

daemon::~daemon() = default;

void daemon::wire_persistence() {
  if (config_.redis_url.empty()) {
    durability_ = std::make_shared<store::memory_durability>();
    return;
  }
  std::string error;
  auto endpoint = persist::parse_redis_url(config_.redis_url, &error);
  if (!endpoint) throw config_error("REDIS_URL: " + error);
  const std::chrono::milliseconds timeout(config_.redis_timeout_ms);
  auto connection =
      persist::redis_connection::create(io_, {.endpoint = *endpoint, .command_timeout = timeout}, &metrics_);
  redis_ = persist::redis_store::create(io_, store_, connection,
                                        {.prefix = config_.redis_prefix,
                                         .node_id = config_.node_id,
                                         .mode = config_.persist,
                                         .command_timeout = timeout},
                                        &metrics_);
  durability_ = redis_;
  // Recovery is the first start-up step: nothing may change the store before
  // every persisted record is back (restore() does not notify subscribers, so
  // the indices are rebuilt afterwards).
  add_startup_step("recovery from redis", [this](step_done done) {
    redis_->start([this, done](const persist::load_report& report) {
      if (!report.ok) return done(report.error);
      relations_.rebuild();
      scheduler_->rebuild();  // the capacity index, then the statuses (wire_scheduler)
      log_info("recovered from redis", {{"records", std::to_string(report.records)},
                                        {"seq", std::to_string(report.seq)}});
      done({});
    });
  });
}

void daemon::wire_tombstone_gc() {
  tombstone_gc_ = tombstone_gc::create(
      io_, store_, tombstone_gc_options::for_ttl(std::chrono::seconds(config_.tombstone_ttl_s)), &metrics_);
  if (redis_) {
    // Every purged key becomes a DEL in Redis's next batch. A purge can never
    // bring data back through a crash, whichever side the crash falls on:
    //  * purged in memory, the DEL not yet acknowledged: after a restart the
    //    tombstone is loaded again, still dead and still older than the TTL,
    //    and the next pass purges it again. A tombstone comes back, never a
    //    live record.
    //  * deleted in Redis and not (yet) in memory: impossible in this order
    //    (the store drops the record before the batch is built), and harmless
    //    anyway: a missing tombstone is exactly what the purge wants.
    //  * the key written again between the purge and the batch: the batch
    //    writes what the store holds when it is built (the new record), so
    //    the DEL can never remove a newer state.
    // What a purge can lose is only the tombstone's protection against older
    // states still held by a peer that was away longer than TOMBSTONE_TTL
    // (DESIGN §2, docs/operations.md "Tombstones"), with or without a crash.
    tombstone_gc_->on_purged([redis = redis_.get()](std::string_view key) { redis->purged(key); });
  }
  // After recovery: the change log must be complete and in sequence order.
  add_startup_step("start tombstone gc", [this](step_done done) {
    tombstone_gc_->start();
    done({});
  });
  add_shutdown_step("stop tombstone gc", [this](std::function<void()> done) {
    tombstone_gc_->stop();
    done();
  });
}

void daemon::wire_watch() {
  // Watchers are connections: begin_shutdown's stop_all() closes them (1001).
  // After wire_scheduler: store subscribers run in subscription order, so a
  // message shows a reservation's status with the change itself counted.
  watch_hub_ = std::make_shared<api::watch_hub>(router_->context());
  upgrades_->add(net::watch_upgrade_path,
                 net::make_watch_upgrade_handler(*router_, watch_hub_, *connections_, metrics_));
}

void daemon::wire_scheduler(api::router_context& context) {
  // Subscribed to the store from here on; recovery rebuilds it (restore()
  // does not notify), before replication or any request can change the store.
  scheduler_ = std::make_unique<api::scheduler_service>(
      store_, clock_,
      domain::scheduler_settings::from_config(config_.planning_window_days, config_.planning_interval_hours));
  api::attach_scheduling(context, *scheduler_);
  metrics_.describe("horao_reservations", metric_type::gauge,
                    "Live reservations by status (accepted, conflicted), as every daemon computes them "
                    "from the replicated state");
  metrics_.on_scrape([this](metric_registry& m) {
    auto& s = scheduler_->scheduler();
    const auto conflicted = s.conflicted_count();
    m.gauge_set("horao_reservations", {{"status", "accepted"}},
                static_cast<double>(s.reservation_count() - conflicted));
    m.gauge_set("horao_reservations", {{"status", "conflicted"}}, static_cast<double>(conflicted));
  });
}

void daemon::add_redis_flush_step() {
  if (!redis_) return;
  add_shutdown_step("flush redis", [this](std::function<void()> done) {
    redis_->flush(std::chrono::seconds(5), [this, done](bool) {
      redis_->stop();
      done();
    });
  });
}

void daemon::wire_replication() {
  replication::replicator_options options;
  options.node_id = config_.node_id;
  options.peers = config_.peers;
  options.secret = config_.peer_secret;
  options.sync = {.delta_us = config_.sync_delta_s * 1'000'000,
                  .max_pending = static_cast<std::uint64_t>(config_.sync_max)};
  options.clock_offset_s = config_.clock_offset_s;
  // A cluster that shares one certificate (or its CA) trusts it for wss://.
  options.tls_ca_file = config_.tls_cert;
  if (redis_) {
    // Peers are sent only what Redis holds, so a crash never makes them keep
    // sequence numbers this daemon hands out again (PERSIST=async answers
    // clients before that point).
    options.persisted_seq = [redis = redis_.get()] { return redis->persisted_seq(); };
    cursors_ = std::make_unique<replication::function_cursor_store>(
        [redis = redis_.get()](std::string_view field) { return redis->peer_cursor(field); },
        [redis = redis_.get()](std::string_view field, std::uint64_t value) {
          redis->set_peer_cursor(field, value);
        });
  } else {
    cursors_ = std::make_unique<replication::memory_cursor_store>();
  }
  replicator_ = replication::replicator::create(io_, store_, *durability_, *cursors_, metrics_, std::move(options));
  if (redis_)
    redis_->on_persisted([weak = std::weak_ptr(replicator_)](std::uint64_t) {
      if (auto replicator = weak.lock()) replicator->persisted_advanced();
    });
  upgrades_->add(replication::peer_upgrade_path, replication::make_peer_upgrade_handler(replicator_));

  // After recovery: cursors are loaded and the log holds everything to send.
  add_startup_step("start replication", [this](step_done done) {
    replicator_->start();
    done({});
  });
  add_shutdown_step("push to peers", [this](std::function<void()> done) {
    replicator_->shutdown(std::chrono::seconds(5), std::move(done));
  });
}

void daemon::add_startup_step(std::string name, startup_step step) {
  startup_steps_.push_back({std::move(name), std::move(step)});
}

void daemon::add_shutdown_step(std::string name, shutdown_step step) {
  shutdown_steps_.push_back({std::move(name), std::move(step)});
}

int daemon::run() {
  // A closed log pipe must not kill the daemon; sockets never raise SIGPIPE
  // (Asio sends with MSG_NOSIGNAL).
  std::signal(SIGPIPE, SIG_IGN);
  // Signals first: a SIGTERM during start-up is a graceful stop too.
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  wait_for_signals();

  log_info("horaod starting", {{"version", HORAO_VERSION}, {"node", config_.node_id}});
  const auto settings = describe(config_);
  std::vector<log_field> fields;
  for (const auto& [key, value] : settings) fields.push_back({key, value});
  log_event(log_level::info, "configuration", fields);
  if (config_.redis_url.empty())
    log_warn(
        "IN-MEMORY STORE: REDIS_URL is not set, so all state is lost when the process exits. "
        "For a first try only, never for production.");

  if (!start_listening()) return 1;
  asio::post(io_, [this] { run_startup_step(0); });

  try {
    io_.run();
  } catch (const std::exception& e) {
    // Handlers do not throw by design; if one did, the state is unknown.
    log_critical("unexpected exception on the event loop; exiting", {{"error", e.what()}});
    return 70;
  }
  return exit_status_;
}

bool daemon::start_listening() {
  boost::system::error_code ec;
  const auto address =
      asio::ip::make_address(config_.listen == "localhost" ? "127.0.0.1" : config_.listen, ec);
  if (ec) {
    log_critical("cannot listen: bad LISTEN address", {{"listen", config_.listen}, {"error", ec.message()}});
    return false;
  }
  std::string error;
  listener_ = net::listener::open(io_, tcp::endpoint(address, config_.port), *http_, error);
  if (!listener_) {
    log_critical("cannot listen: " + error + "; exiting",
                 {{"listen", config_.listen}, {"port", config_.port}});
    return false;
  }
  listener_->run();
  log_info("listening", {{"address", endpoint_text(listener_->local_endpoint())}, {"tls", tls_ != nullptr}});
  return true;
}

void daemon::wait_for_signals() {
  signals_.async_wait([this](boost::system::error_code ec, int signal_number) {
    if (ec) return;
    const char* name = signal_number == SIGINT ? "SIGINT" : "SIGTERM";
    if (!stopping_) {
      begin_shutdown(std::string("received ") + name);
      wait_for_signals();
      return;
    }
    log_warn("second signal during shutdown: exiting now", {{"signal", name}});
    exit_status_ = 1;
    finish();
  });
}

void daemon::run_startup_step(std::size_t index) {
  if (stopping_) return;
  if (index == startup_steps_.size()) return become_ready();
  const std::string& name = startup_steps_[index].name;
  log_info("start-up step", {{"step", name}});
  auto done = [this, index](std::string error) {
    // Always continue from the loop, whether `done` came inline or later.
    asio::post(io_, [this, index, error = std::move(error)] {
      if (stopping_) return;
      if (!error.empty()) {
        log_critical("start-up step failed", {{"step", startup_steps_[index].name}, {"error", error}});
        exit_status_ = 1;
        return begin_shutdown("start-up failed");
      }
      run_startup_step(index + 1);
    });
  };
  try {
    startup_steps_[index].step(std::move(done));
  } catch (const std::exception& e) {
    log_critical("start-up step threw", {{"step", name}, {"error", e.what()}});
    exit_status_ = 1;
    begin_shutdown("start-up failed");
  }
}

void daemon::become_ready() {
  ready_ = true;
  log_info("ready", {{"node", config_.node_id}, {"address", endpoint_text(listener_->local_endpoint())}});
  notify_systemd("READY=1");
}

void daemon::request_stop(int exit_status, std::string why) {
  asio::post(io_, [this, exit_status, why = std::move(why)] {
    if (stopping_) return;
    exit_status_ = exit_status;
    begin_shutdown(why);
  });
}

void daemon::begin_shutdown(std::string why) {
  if (stopping_) return;
  stopping_ = true;
  // ready_ stays: it means "start-up finished", and the requests still in
  // progress must complete normally.
  log_info("shutting down", {{"reason", why}});
  notify_systemd("STOPPING=1");
  shutdown_deadline_ = std::chrono::steady_clock::now() + drain_deadline;
  if (listener_) listener_->stop();
  connections_->stop_all();
  wait_for_connections();
}

void daemon::wait_for_connections() {
  const std::size_t open = connections_->live();
  if (open == 0) return run_shutdown_step(0);
  if (std::chrono::steady_clock::now() >= shutdown_deadline_) {
    log_warn("connections still busy at the drain deadline; closing them", {{"open", open}});
    return run_shutdown_step(0);
  }
  shutdown_timer_.expires_after(drain_poll);
  shutdown_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) wait_for_connections();
  });
}

void daemon::run_shutdown_step(std::size_t index) {
  if (finished_) return;
  if (index == 0) shutdown_deadline_ = std::chrono::steady_clock::now() + flush_deadline;
  if (index >= shutdown_steps_.size()) return finish();
  const std::size_t generation = ++shutdown_step_generation_;
  shutdown_timer_.expires_at(shutdown_deadline_);
  shutdown_timer_.async_wait([this, generation, index](boost::system::error_code ec) {
    if (ec || finished_ || generation != shutdown_step_generation_) return;
    log_warn("shutdown step did not finish in time; exiting anyway", {{"step", shutdown_steps_[index].name}});
    finish();
  });
  auto done = [this, generation, index] {
    asio::post(io_, [this, generation, index] {
      if (finished_ || generation != shutdown_step_generation_) return;  // late: abandoned already
      run_shutdown_step(index + 1);
    });
  };
  try {
    shutdown_steps_[index].step(std::move(done));
  } catch (const std::exception& e) {
    log_error("shutdown step threw", {{"step", shutdown_steps_[index].name}, {"error", e.what()}});
    run_shutdown_step(index + 1);
  }
}

void daemon::finish() {
  if (finished_) return;
  finished_ = true;
  log_info("stopped", {{"exit_status", exit_status_}});
  io_.stop();
}

}  // namespace horao::app
