// Replication benchmarks (issue 5, docs/benchmarks.md): two replicators in
// one process, each on its own thread and io_context (as two daemons would
// be), over real loopback WebSockets, with in-memory durability (Redis costs
// are measured by the persistence benchmarks).
//
//   bootstrap   N server-like records on A, B empty: time until B holds them all
//   steady      changes written on A one by one: bytes on the wire per change,
//               and the latency from A's write to B's merge (p50, p99)
//   heal        B disconnected while 1% of the records change on A, then
//               reconnected: bytes sent to heal / the changed records' size;
//               and the same when B lost its cursors (bucket anti-entropy)
//
// Usage: horao_bench_replication [records=1000000] [steady_changes=20000] [rate_per_s=2000]
// Prints figures; asserts nothing.

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "horao/app/metrics.hpp"
#include "horao/crdt/codec.hpp"
#include "horao/replication/cursor_store.hpp"
#include "horao/replication/peer_acceptor.hpp"
#include "horao/replication/replicator.hpp"
#include "horao/store/durability.hpp"
#include "horao/store/record_store.hpp"

using namespace horao;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

const std::string secret = "bench secret";

class upgrade_conn : public std::enable_shared_from_this<upgrade_conn> {
 public:
  upgrade_conn(tcp::socket s, net::upgrade_handler h) : stream_(std::move(s)), handler_(std::move(h)) {}
  void run() {
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (!ec && websocket::is_upgrade(self->request_))
                         self->handler_.plain(std::move(self->stream_), std::move(self->request_));
                     });
  }

 private:
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  net::upgrade_request request_;
  net::upgrade_handler handler_;
};

struct node {
  std::string id;
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  crdt::system_time_source time;
  crdt::hybrid_clock clock;
  store::record_store store;
  store::memory_durability durability;
  replication::memory_cursor_store cursors;
  app::metric_registry metrics;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::shared_ptr<replication::replicator> repl;
  std::thread thread;

  explicit node(std::string name)
      : id(std::move(name)), clock(*crdt::node_names().intern(id), time), store(clock) {}

  std::string url() const { return "ws://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()); }
  void run() {
    thread = std::thread([this] { io.run(); });
  }
  // Runs f on this node's thread and waits for its result.
  template <class F>
  auto call(F&& f) {
    std::packaged_task<decltype(f())()> task(std::forward<F>(f));
    auto future = task.get_future();
    if (!thread.joinable()) {
      task();
      return future.get();
    }
    asio::post(io, [&task] { task(); });
    return future.get();
  }
  ~node() {
    call([&] {
      if (repl) repl->stop();
      beast::error_code ignored;
      acceptor.close(ignored);
      return 0;
    });
    guard.reset();
    io.stop();
    if (thread.joinable()) thread.join();
  }
  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket s) {
      if (ec) return;
      std::make_shared<upgrade_conn>(std::move(s), replication::make_peer_upgrade_handler(repl))->run();
      accept();
    });
  }
  void start(std::vector<std::string> peers) {
    call([&] {
      replication::replicator_options o;
      o.node_id = id;
      o.peers = std::move(peers);
      o.secret = secret;
      o.sync = {0, 0};
      repl = replication::replicator::create(io, store, durability, cursors, metrics, o);
      repl->start();
      accept();
      return 0;
    });
  }
  void stop() {
    call([&] {
      if (repl) repl->stop();
      repl.reset();
      return 0;
    });
  }
  double metric(const char* name, const std::string& peer) {
    return call([&] {
      metrics.render();
      return metrics.value(name, {{"peer", peer}});
    });
  }
};

std::vector<crdt::field_write> server_fields(std::size_t i, int version) {
  const std::string n = std::to_string(i);
  return {{"cabinet", "\"cab-" + std::to_string(i % 500) + "\""},
          {"serial_number", "\"SN" + n + "\""},
          {"model", "\"PowerEdge R760\""},
          {"status", version % 2 ? "\"down\"" : "\"up\""},
          // Values in the canonical form the API stores (nlohmann's compact dump, keys sorted).
          {"cpus",
           "[{\"clock_ghz\":3.1,\"cores\":64,\"model\":\"EPYC "
           "9554\"},{\"clock_ghz\":3.1,\"cores\":64,\"model\":\"EPYC 9554\"}]"},
          {"ram", "[{\"size_gb\":512}]"},
          {"networks", "[\"mgmt-1\",\"data-" + std::to_string(i % 7) + "\"]"},
          {"version", std::to_string(version)}};
}

template <class P>
bool wait_for(P&& done, std::chrono::seconds limit) {
  const auto end = steady::now() + limit;
  while (steady::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

double seconds_since(steady::time_point t) {
  return std::chrono::duration<double>(steady::now() - t).count();
}

std::size_t encoded_size(const crdt::record& r, std::string_view key) {
  return key.size() + nlohmann::json::to_cbor(crdt::encode_record(r)).size();
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t records = argc > 1 ? std::stoul(argv[1]) : 1'000'000;
  const std::size_t steady_changes = argc > 2 ? std::stoul(argv[2]) : 20'000;
  const double rate = argc > 3 ? std::stod(argv[3]) : 2000;

  node a("bench-a"), b("bench-b");
  std::printf("# replication benchmark: %zu records, %zu steady changes at %.0f/s\n", records, steady_changes,
              rate);

  // ---- populate A ----
  auto t = steady::now();
  std::size_t state_bytes = 0;
  for (std::size_t i = 0; i < records; ++i) {
    const auto f = server_fields(i, 0);
    a.store.put("server/s" + std::to_string(i), f);
  }
  a.store.changes_since(0, [&](std::uint64_t, std::string_view key, const store::stored_record& e) {
    state_bytes += encoded_size(e.state, key);
    return true;
  });
  std::printf("populate: %zu records on A in %.2f s; encoded state %.1f MiB (%.0f bytes/record)\n", records,
              seconds_since(t), state_bytes / 1048576.0, double(state_bytes) / records);

  // ---- bootstrap ----
  a.run();
  b.run();
  a.start({});
  b.start({a.url()});
  t = steady::now();
  const auto digest_a = a.call([&] { return a.store.digest(); });
  const bool ok = wait_for([&] { return b.call([&] { return b.store.digest() == digest_a; }); },
                           std::chrono::seconds(std::getenv("BENCH_DEBUG") ? 5 : 600));
  if (!ok || std::getenv("BENCH_DEBUG")) {
    a.call([&] {
      for (const auto& st : a.repl->status())
        std::printf("debug: a -> %s connected %d pending %llu acked %llu inflight %zu error '%s'\n",
                    st.node.c_str(), st.connected, (unsigned long long)st.pending,
                    (unsigned long long)st.acked_seq, st.inflight_bytes, st.last_error.c_str());
      return 0;
    });
    b.call([&] {
      std::printf("debug: b holds %zu records\n", b.store.size());
      return 0;
    });
  }
  const double boot_s = seconds_since(t);
  const double boot_bytes = a.metric("horao_peer_bytes_sent_total", "bench-b");
  std::printf(
      "bootstrap: %s %zu records in %.2f s (%.0f records/s); %.1f MiB on the wire (%.2f x the state)\n",
      ok ? "ok" : "TIMEOUT", records, boot_s, records / boot_s, boot_bytes / 1048576.0,
      boot_bytes / state_bytes);

  // ---- steady load: latency and bytes per change ----
  std::vector<steady::time_point> written(steady_changes), seen(steady_changes);
  std::atomic<std::size_t> arrived{0};
  b.call([&] {
    b.store.subscribe([&](const store::change& c) {
      if (c.key.rfind("vm/lat", 0) != 0) return;
      const std::size_t i = std::stoul(std::string(c.key.substr(6)));
      if (i < seen.size()) {
        seen[i] = steady::now();
        ++arrived;
      }
    });
    return 0;
  });
  const double sent_before = a.metric("horao_peer_bytes_sent_total", "bench-b");
  const double records_before = a.metric("horao_peer_records_sent_total", "bench-b");
  std::size_t change_bytes = 0;
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  t = steady::now();
  for (std::size_t i = 0; i < steady_changes; ++i) {
    std::this_thread::sleep_until(t + std::chrono::duration_cast<steady::duration>(interval * double(i)));
    change_bytes += a.call([&] {
      const std::string key = "vm/lat" + std::to_string(i);
      std::vector<crdt::field_write> f{{"host", "\"server/s" + std::to_string(i % 1000) + "\""},
                                       {"cpu", "4"},
                                       {"ram_gb", "16"},
                                       {"status", "\"running\""}};
      written[i] = steady::now();
      const auto* e = a.store.put(key, f).entry;
      return encoded_size(e->state, key);
    });
  }
  wait_for([&] { return arrived.load() == steady_changes; }, 120s);
  std::vector<double> lat;
  for (std::size_t i = 0; i < steady_changes; ++i)
    if (seen[i] != steady::time_point{})
      lat.push_back(std::chrono::duration<double, std::milli>(seen[i] - written[i]).count());
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, std::size_t(p * lat.size()))];
  };
  wait_for([&] { return a.call([&] { return a.repl->status()[0].pending == 0; }); }, 60s);
  const double steady_bytes = a.metric("horao_peer_bytes_sent_total", "bench-b") - sent_before;
  const double steady_records = a.metric("horao_peer_records_sent_total", "bench-b") - records_before;
  std::printf(
      "steady (SYNC_MAX=0): %zu/%zu arrived; A write -> B merge latency p50 %.3f ms, p99 %.3f ms, max %.3f "
      "ms\n",
      lat.size(), steady_changes, pct(0.50), pct(0.99), lat.empty() ? 0.0 : lat.back());
  std::printf(
      "steady: %.0f records in %.0f bytes: %.1f bytes per change on the wire (record alone %.1f bytes)\n",
      steady_records, steady_bytes, steady_bytes / std::max(1.0, steady_records),
      double(change_bytes) / steady_changes);

  // ---- partition and heal: the cursor path ----
  const std::size_t changed = std::max<std::size_t>(1, records / 100);
  auto heal = [&](bool forget_cursors, const char* label) {
    b.stop();
    // The partition: A has noticed that B is gone before anything changes.
    wait_for([&] { return a.call([&] { return !a.repl->status()[0].connected; }); }, 60s);
    if (forget_cursors) {
      b.call([&] {
        b.cursors = replication::memory_cursor_store{};
        return 0;
      });
    }
    std::size_t changed_bytes = a.call([&] {
      std::size_t bytes = 0;
      for (std::size_t k = 0; k < changed; ++k) {
        const std::size_t i = (k * 7919) % records;
        const std::string key = "server/s" + std::to_string(i);
        const auto f = server_fields(i, forget_cursors ? 2 : 1);
        const auto* e = a.store.put(key, f).entry;
        bytes += encoded_size(e->state, key);
      }
      return bytes;
    });
    const double before = a.metric("horao_peer_bytes_sent_total", "bench-b") +
                          b.metric("horao_peer_bytes_sent_total", "bench-a");
    if (std::getenv("BENCH_DEBUG"))
      std::printf("debug: a->b bytes %.0f records %.0f; b->a bytes %.0f records %.0f\n",
                  a.metric("horao_peer_bytes_sent_total", "bench-b"),
                  a.metric("horao_peer_records_sent_total", "bench-b"),
                  b.metric("horao_peer_bytes_sent_total", "bench-a"),
                  b.metric("horao_peer_records_sent_total", "bench-a"));
    const auto t0 = steady::now();
    b.start({a.url()});
    const auto target = a.call([&] { return a.store.digest(); });
    const bool healed = wait_for([&] { return b.call([&] { return b.store.digest() == target; }); }, 600s);
    const double secs = seconds_since(t0);
    wait_for([&] { return a.call([&] { return a.repl->status()[0].pending == 0; }); }, 60s);
    const double after = a.metric("horao_peer_bytes_sent_total", "bench-b") +
                         b.metric("horao_peer_bytes_sent_total", "bench-a");
    if (std::getenv("BENCH_DEBUG"))
      std::printf("debug: a->b bytes %.0f records %.0f; b->a bytes %.0f records %.0f\n",
                  a.metric("horao_peer_bytes_sent_total", "bench-b"),
                  a.metric("horao_peer_records_sent_total", "bench-b"),
                  b.metric("horao_peer_bytes_sent_total", "bench-a"),
                  b.metric("horao_peer_records_sent_total", "bench-a"));
    if (std::getenv("BENCH_DEBUG"))
      std::printf("debug: before %.0f after %.0f changed %zu\n", before, after, changed_bytes);
    std::printf(
        "heal (%s): %s %zu changed records (%.1f MiB) healed in %.2f s with %.1f MiB both ways: %.2f x their "
        "size\n",
        label, healed ? "ok" : "TIMEOUT", changed, changed_bytes / 1048576.0, secs,
        (after - before) / 1048576.0, (after - before) / changed_bytes);
  };
  heal(false, "cursor resume");
  heal(true, "cursors lost: bucket anti-entropy");
  return 0;
}
