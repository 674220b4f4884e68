#pragma once
// Test support for replication I/O tests: whole replicators in one process,
// each with its own store, clock, durability and cursors, talking over real
// loopback WebSockets. A minimal acceptor stands in for net/'s HTTP session:
// it reads the upgrade request and hands it to the replicator's upgrade
// handler, as net/ does through upgrade_registry.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "horao/app/metrics.hpp"
#include "horao/crdt/clock.hpp"
#include "horao/replication/cursor_store.hpp"
#include "horao/replication/peer_acceptor.hpp"
#include "horao/replication/replicator.hpp"
#include "horao/store/durability.hpp"
#include "horao/store/record_store.hpp"

namespace horao::replication::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;

// System time plus an adjustable offset (a host with a wrong clock).
struct shifted_time : crdt::time_source {
  std::int64_t offset_us = 0;
  std::int64_t now_us() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count() +
           offset_us;
  }
};

// Durability that answers at once, holds the answers, or fails them.
struct controlled_durability : store::durability {
  enum class mode { immediate, hold, fail };
  mode m = mode::immediate;
  bool accepting = true;
  std::deque<std::function<void(bool)>> held;

  void when_durable(std::uint64_t, std::function<void(bool)> done) override {
    switch (m) {
      case mode::immediate:
        done(true);
        return;
      case mode::fail:
        done(false);
        return;
      case mode::hold:
        held.push_back(std::move(done));
        return;
    }
  }
  bool accepting_writes(std::string* reason) const override {
    if (!accepting && reason) *reason = "test: persistence down";
    return accepting;
  }
  void release(bool ok = true) {
    auto pending = std::move(held);
    held.clear();
    for (auto& f : pending) f(ok);
  }
};

// Reads one HTTP request and hands an upgrade of /v1/peer to the handler.
class upgrade_conn : public std::enable_shared_from_this<upgrade_conn> {
 public:
  upgrade_conn(tcp::socket s, net::upgrade_handler h) : stream_(std::move(s)), handler_(std::move(h)) {}
  void run() {
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return;
                       if (!websocket::is_upgrade(self->request_) || self->request_.target() != "/v1/peer")
                         return;
                       self->stream_.expires_never();
                       self->handler_.plain(std::move(self->stream_), std::move(self->request_));
                     });
  }

 private:
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  net::upgrade_request request_;
  net::upgrade_handler handler_;
};

class test_listener : public std::enable_shared_from_this<test_listener> {
 public:
  test_listener(asio::io_context& io, net::upgrade_handler handler)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), handler_(std::move(handler)) {}
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void set_handler(net::upgrade_handler h) { handler_ = std::move(h); }
  void start() {
    acceptor_.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec) return;
      std::make_shared<upgrade_conn>(std::move(s), self->handler_)->run();
      self->start();
    });
  }
  void stop() {
    beast::error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  tcp::acceptor acceptor_;
  net::upgrade_handler handler_;
};

inline std::string default_secret() {
  return "test secret";
}

// One daemon's worth of replication state.
struct test_node {
  std::string id;
  shifted_time time;
  crdt::hybrid_clock clock;
  store::record_store store;
  controlled_durability durability;
  memory_cursor_store cursors;
  app::metric_registry metrics;
  std::shared_ptr<test_listener> listener;
  std::shared_ptr<replicator> repl;
  replicator_options options;
  asio::io_context& io;

  test_node(asio::io_context& io_, std::string node_id, double clock_offset_s = 0)
      : id(std::move(node_id)),
        clock(*crdt::node_names().intern(id), time, static_cast<std::int64_t>(clock_offset_s * 1e6)),
        store(clock),
        io(io_) {
    listener = std::make_shared<test_listener>(io, make_peer_upgrade_handler({}));
    listener->start();
    options.node_id = id;
    options.secret = default_secret();
    options.sync = {0, 0};  // push every change at once
    options.clock_offset_s = clock_offset_s;
    options.reconnect_initial = std::chrono::milliseconds(20);
    options.reconnect_max = std::chrono::milliseconds(300);
    options.reject_initial = std::chrono::milliseconds(50);
    options.reject_max = std::chrono::milliseconds(200);
    options.tick = std::chrono::milliseconds(20);
  }
  ~test_node() {
    stop();
    listener->stop();
  }

  std::string url() const { return "ws://127.0.0.1:" + std::to_string(listener->port()); }

  void start(std::vector<std::string> peers = {}) {
    options.peers = std::move(peers);
    repl = replicator::create(io, store, durability, cursors, metrics, options);
    listener->set_handler(make_peer_upgrade_handler(repl));
    repl->start();
  }
  // The replicator goes away (a daemon restart that keeps its Redis: the
  // store and the cursors survive).
  void stop() {
    if (repl) repl->stop();
    repl.reset();
    if (listener) listener->set_handler(make_peer_upgrade_handler({}));
  }

  void put(const std::string& key, const std::string& name) {
    std::vector<crdt::field_write> f{{"name", "\"" + name + "\""}, {"number", "1"}};
    store.put(key, f);
  }
  const peer_status* status_of(const std::string& node) {
    static std::vector<peer_status> rows;
    rows = repl->status();
    for (const auto& r : rows)
      if (r.node == node) return &r;
    return nullptr;
  }
  double metric(const std::string& name, const std::string& peer) {
    metrics.render();  // runs the scrape hooks
    return metrics.value(name, {{"peer", peer}});
  }
};

// Runs the loop until `done()` or the deadline; true when done.
inline bool run_until(asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return done();
}

// Runs the loop for a fixed time (to show that something does NOT happen).
inline void run_for(asio::io_context& io, std::chrono::milliseconds d) {
  const auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
}

}  // namespace horao::replication::test
