// A peer is authenticated, not trusted: a raw WebSocket client with a valid
// token sends what a broken or hostile daemon might. The replicator must
// refuse it with a clear reason, apply nothing of it, and keep serving.
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <future>

#include "horao/crdt/codec.hpp"
#include "test_replication_support.hpp"

using namespace horao;
using namespace horao::replication;
using namespace horao::replication::test;
using namespace std::chrono_literals;

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A synchronous client, used from its own thread while the test's thread
// runs the replicator's loop.
struct raw_client {
  asio::io_context io;
  websocket::stream<beast::tcp_stream> ws{io};
  std::string nonce = random_nonce();
  std::string token;

  explicit raw_client(std::string node, std::string secret = default_secret())
      : token(make_peer_token(secret, node, unix_now(), nonce)) {}

  int connect(std::uint16_t port, const std::string& use_token) {
    beast::get_lowest_layer(ws).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval tv{5, 0};
    ::setsockopt(beast::get_lowest_layer(ws).socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv,
                 sizeof tv);
    ws.set_option(websocket::stream_base::decorator(
        [use_token](websocket::request_type& req) { req.set(peer_token_header, use_token); }));
    websocket::response_type res;
    beast::error_code ec;
    ws.handshake(res, "127.0.0.1:" + std::to_string(port), "/v1/peer", ec);
    return res.result_int();
  }
  int connect(std::uint16_t port) { return connect(port, token); }

  void send(const frame& f) {
    ws.binary(true);
    beast::error_code ec;
    ws.write(asio::buffer(f), ec);
  }
  void send_text(const std::string& s) {
    ws.text(true);
    beast::error_code ec;
    ws.write(asio::buffer(s), ec);
  }
  // The next message, or nullopt with the close reason.
  std::optional<message> read(std::string* closed = nullptr) {
    beast::flat_buffer buffer;
    beast::error_code ec;
    ws.read(buffer, ec);
    if (ec) {
      if (closed)
        *closed = ec == websocket::error::closed
                      ? std::string(ws.reason().reason.data(), ws.reason().reason.size())
                      : "error: " + ec.message();
      return std::nullopt;
    }
    const auto data = buffer.cdata();
    return decode(std::string_view(static_cast<const char*>(data.data()), data.size()));
  }
  // Reads until the server closes; returns its reason.
  std::string read_until_closed() {
    std::string reason;
    for (int i = 0; i < 20; ++i) {
      if (!read(&reason)) return reason;
    }
    return "still open";
  }
};

hello_message client_hello(const std::string& node) {
  hello_message h;
  h.node = node;
  h.epoch = 42;
  return h;
}

template <class F>
auto with_server(asio::io_context& io, F&& f) {
  auto future = std::async(std::launch::async, std::forward<F>(f));
  run_until(
      io, [&] { return future.wait_for(0s) == std::future_status::ready; }, 30s);
  REQUIRE(future.wait_for(0s) == std::future_status::ready);
  return future.get();
}

crdt::record record_at(std::int64_t wall_us, const char* node) {
  crdt::record r;
  std::vector<crdt::field_write> f{{"name", "\"x\""}};
  const auto id = *crdt::node_names().intern(node);
  r.put({wall_us, 0, id}, {wall_us, 1, id}, f);
  return r;
}

}  // namespace

TEST_CASE("replication hostile peer: the server's hello proves the secret; garbage closes the link") {
  asio::io_context io;
  test_node server(io, "hostile-s");
  server.start();
  const auto port = server.listener->port();

  struct result {
    int status = 0;
    std::optional<message> hello;
    std::string nonce;
    std::string closed;
  };
  auto r = with_server(io, [&] {
    result out;
    raw_client c("hostile-c");
    out.nonce = c.nonce;
    out.status = c.connect(port);
    out.hello = c.read();
    c.send(frame{0xff, 0x01, 0x02});
    out.closed = c.read_until_closed();
    return out;
  });
  CHECK(r.status == 101);
  REQUIRE(r.hello);
  const auto& h = std::get<hello_message>(*r.hello);
  CHECK(h.node == "hostile-s");
  CHECK(h.version == protocol_version);
  CHECK(check_hello_proof(default_secret(), "hostile-s", r.nonce, h.proof));
  CHECK_THAT(r.closed, Catch::Contains("protocol error"));
  run_until(io, [&] { return server.metric("horao_peer_protocol_errors_total", "hostile-c") >= 1; });
  CHECK(server.metric("horao_peer_protocol_errors_total", "hostile-c") == 1);
  CHECK(server.store.size() == 0);
}

TEST_CASE("replication hostile peer: protocol violations are refused with a reason") {
  asio::io_context io;
  test_node server(io, "viol-s");
  server.start();
  const auto port = server.listener->port();
  auto scenario = [&](std::function<void(raw_client&)> act) {
    return with_server(io, [&, act] {
      raw_client c("viol-c");
      if (c.connect(port) != 101) return std::string("no upgrade");
      (void)c.read();  // the server's hello
      act(c);
      return c.read_until_closed();
    });
  };

  SECTION("deltas before the hello") {
    CHECK_THAT(scenario([](raw_client& c) {
                 c.send(encode(deltas_message{0, 1, {}}));
               }),
               Catch::Contains("expected a hello"));
  }
  SECTION("another protocol version") {
    hello_message h = client_hello("viol-c");
    h.version = protocol_version + 1;
    CHECK_THAT(scenario([h](raw_client& c) { c.send(encode(h)); }),
               Catch::Contains("incompatible protocol version"));
  }
  SECTION("a hello naming another node than the token") {
    CHECK_THAT(scenario([](raw_client& c) { c.send(encode(client_hello("someone-else"))); }),
               Catch::Contains("another node"));
  }
  SECTION("a gap in the sequence") {
    CHECK_THAT(scenario([](raw_client& c) {
                 c.send(encode(client_hello("viol-c")));
                 c.send(encode(deltas_message{10, 20, {}}));
               }),
               Catch::Contains("delta starts after"));
  }
  SECTION("an ack for something never sent") {
    CHECK_THAT(scenario([](raw_client& c) {
                 c.send(encode(client_hello("viol-c")));
                 c.send(encode(ack_message{999}));
               }),
               Catch::Contains("ack for 999"));
  }
  SECTION("a text frame") {
    CHECK_THAT(scenario([](raw_client& c) { c.send_text("{\"t\":\"hello\"}"); }),
               Catch::Contains("text frames"));
  }
  SECTION("a second hello") {
    CHECK_THAT(scenario([](raw_client& c) {
                 c.send(encode(client_hello("viol-c")));
                 c.send(encode(client_hello("viol-c")));
               }),
               Catch::Contains("second hello"));
  }
  SECTION("a frame over the size cap") {
    const std::string reason = scenario([](raw_client& c) {
      c.send(encode(client_hello("viol-c")));
      c.send(frame(max_frame_bytes + 10, 0));
    });
    CHECK(reason != "still open");
  }
  CHECK(server.store.size() == 0);
  // Still serving: a well-behaved peer gets through afterwards.
  test_node good(io, "viol-good");
  good.start({server.url()});
  good.put("racks/ok", "ok");
  CHECK(run_until(io, [&] { return server.store.size() == 1; }));
}

TEST_CASE("replication hostile peer: a delta far in the future is refused whole; a replayed token gets 401") {
  asio::io_context io;
  test_node server(io, "clk-s", /*clock_offset_s=*/2.0);
  server.start();
  const auto port = server.listener->port();
  const std::int64_t now_us = server.time.now_us();
  struct result {
    std::optional<message> answer;
    int replay_status = 0;
  };
  auto r = with_server(io, [&] {
    result out;
    raw_client c("clk-c");
    if (c.connect(port) != 101) return out;
    (void)c.read();
    c.send(encode(client_hello("clk-c")));
    deltas_message d{0,
                     2,
                     {{"racks/now", record_at(now_us, "clk-c")},
                      {"racks/later", record_at(now_us + 60'000'000, "clk-c")}}};
    c.send(encode(d));
    out.answer = c.read();
    // The same token again, on a new connection.
    raw_client again("clk-c");
    out.replay_status = again.connect(port, c.token);
    return out;
  });
  REQUIRE(r.answer);
  const auto* reject = std::get_if<reject_message>(&*r.answer);
  REQUIRE(reject);
  CHECK(reject->reason == reject_reason::clock);
  CHECK(reject->to_seq == 2);
  CHECK_THAT(reject->message, Catch::Contains("racks/later"));
  CHECK(server.store.size() == 0);  // not even the record that was fine
  CHECK(r.replay_status == 401);
  server.metrics.render();
  CHECK(server.metrics.value("horao_peer_rejected_deltas_total", {{"peer", "clk-c"}, {"reason", "clock"}}) ==
        1);
  CHECK(server.metrics.value("horao_peer_auth_failures_total", {{"reason", "peer token replayed"}}) == 1);
}

TEST_CASE("replication hostile peer: a PEERS URL that is this daemon itself is dialed once") {
  asio::io_context io;
  test_node a(io, "selfie");
  a.start({"ws://127.0.0.1:" + std::to_string(a.listener->port())});
  REQUIRE(run_until(io, [&] {
    const auto rows = a.repl->status();
    return !rows.empty() && rows[0].last_error.find("itself") != std::string::npos;
  }));
  run_for(io, 300ms);
  a.metrics.render();
  CHECK(a.metrics.value("horao_peer_reconnects_total", {{"url", a.url()}}) == 0);
  CHECK(a.repl->status().size() == 1);  // no row for itself as an inbound peer
}

TEST_CASE("replication hostile peer: upgrades before the replicator started get 503") {
  asio::io_context io;
  test_node server(io, "early-s");
  // Created (as the daemon does before recovery) but not started.
  server.repl =
      replicator::create(io, server.store, server.durability, server.cursors, server.metrics, server.options);
  server.listener->set_handler(make_peer_upgrade_handler(server.repl));
  const auto port = server.listener->port();
  const int status = with_server(io, [&] {
    raw_client c("early-c");
    return c.connect(port);
  });
  CHECK(status == 503);
  server.repl->start();
  const int later = with_server(io, [&] {
    raw_client c("early-c");
    return c.connect(port);
  });
  CHECK(later == 101);
}
