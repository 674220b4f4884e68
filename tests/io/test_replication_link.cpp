// Replicators in one process over real loopback WebSockets: delivery both
// ways, forwarding, the sync rule, bootstrap, anti-entropy, resume after a
// restart, authentication, the clock guard, backpressure, durability.
#include <catch2/catch.hpp>

#include "test_replication_support.hpp"

using namespace horao;
using namespace horao::replication;
using namespace horao::replication::test;
using namespace std::chrono_literals;

namespace {

bool same_state(test_node& a, test_node& b) {
  return a.store.digest() == b.store.digest() && a.store.size() == b.store.size();
}

// No link closed for a protocol violation, between any two of these nodes.
void check_clean(std::initializer_list<test_node*> nodes) {
  for (auto* n : nodes)
    for (auto* m : nodes)
      if (n != m) {
        INFO(n->id << " about " << m->id);
        CHECK(n->metric("horao_peer_protocol_errors_total", m->id) == 0);
      }
}

bool connected(test_node& a, const std::string& peer) {
  const auto* s = a.status_of(peer);
  return s && s->connected;
}

}  // namespace

TEST_CASE("replication link: one dialed link carries deltas both ways") {
  asio::io_context io;
  test_node a(io, "link-a"), b(io, "link-b");
  b.start();
  a.start({b.url()});  // only a lists b
  REQUIRE(run_until(io, [&] { return connected(a, "link-b") && connected(b, "link-a"); }));

  a.put("datacenters/dc1", "one");
  b.put("datacenters/dc2", "two");
  REQUIRE(run_until(io, [&] { return a.store.size() == 2 && b.store.size() == 2; }));
  CHECK(same_state(a, b));
  // Acknowledged and persisted cursors on both sides.
  REQUIRE(run_until(
      io, [&] { return a.status_of("link-b")->pending == 0 && b.status_of("link-a")->pending == 0; }));
  CHECK(a.cursors.get("link-b").value_or(0) == a.store.seq());
  CHECK(b.cursors.get("recv:link-a").value_or(0) >= 1);
  // Changes that came from the peer are not sent back to it.
  CHECK(a.metric("horao_peer_records_sent_total", "link-b") == 1);
  CHECK(b.metric("horao_peer_records_sent_total", "link-a") == 1);
  // Status rows: the URL row on a, the inbound row on b.
  const auto rows = a.repl->peers_json();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["url"] == b.url());
  CHECK(rows[0]["node"] == "link-b");
  CHECK(rows[0]["connected"] == true);
  CHECK(rows[0]["last_push"].is_string());
  CHECK(rows[0]["last_error"].is_null());
  CHECK(b.repl->peers_json()[0]["url"].is_null());
  check_clean({&a, &b});
}

TEST_CASE("replication link: a chain A-B-C converges by forwarding") {
  asio::io_context io;
  test_node a(io, "chain-a"), b(io, "chain-b"), c(io, "chain-c");
  b.start();
  a.start({b.url()});
  c.start({b.url()});
  REQUIRE(run_until(io, [&] { return connected(b, "chain-a") && connected(b, "chain-c"); }));
  for (int i = 0; i < 20; ++i) {
    a.put("servers/a" + std::to_string(i), "from a");
    c.put("servers/c" + std::to_string(i), "from c");
  }
  b.put("servers/b", "from b");
  REQUIRE(run_until(io, [&] { return same_state(a, b) && same_state(b, c) && a.store.size() == 41; }));
  // Concurrent writes to one key on both ends: every replica picks the same winner.
  a.put("servers/shared", "a wins?");
  c.put("servers/shared", "c wins?");
  REQUIRE(run_until(io, [&] { return same_state(a, b) && same_state(b, c) && a.store.size() == 42; }));
  // a never gets its own records back: what b sent to a is c's 20, b's
  // one, and the shared key: c's version, and possibly once more the join of
  // both (when neither dominates, the join is new to a as far as b knows).
  REQUIRE(run_until(io, [&] { return b.status_of("chain-a")->pending == 0; }));
  CHECK(b.metric("horao_peer_records_sent_total", "chain-a") <= 23);
  check_clean({&a, &b, &c});
}

TEST_CASE("replication link: the sync rule, SYNC_DELTA=3600 SYNC_MAX=5, and sync now") {
  asio::io_context io;
  test_node a(io, "rule-a"), b(io, "rule-b");
  a.options.sync = {3600LL * 1'000'000, 5};
  b.start();
  a.start({b.url()});
  REQUIRE(run_until(io, [&] { return connected(a, "rule-b"); }));
  for (int i = 1; i <= 5; ++i) a.put("racks/r" + std::to_string(i), "r");
  run_for(io, 300ms);  // several ticks: nothing may be pushed
  CHECK(b.store.size() == 0);
  CHECK(a.status_of("rule-b")->pending == 5);
  CHECK(a.metric("horao_peer_pushes_total", "rule-b") == 0);
  a.put("racks/r6", "r");  // the sixth: pending 6 > SYNC_MAX
  REQUIRE(run_until(io, [&] { return b.store.size() == 6; }));
  CHECK(a.metric("horao_peer_pushes_total", "rule-b") == 1);
  REQUIRE(run_until(io, [&] { return a.status_of("rule-b")->pending == 0; }));

  // One more stays local until sync now.
  a.put("racks/r7", "r");
  run_for(io, 200ms);
  CHECK(b.store.size() == 6);
  a.repl->sync_now();
  REQUIRE(run_until(io, [&] { return b.store.size() == 7; }));
  CHECK(same_state(a, b));
  check_clean({&a, &b});
}

TEST_CASE("replication link: the time branch pushes after SYNC_DELTA") {
  asio::io_context io;
  test_node a(io, "delta-a"), b(io, "delta-b");
  a.options.sync = {400'000, 1000};  // 0.4 s, and a count that is never reached
  b.start();
  a.start({b.url()});
  REQUIRE(run_until(io, [&] { return connected(a, "delta-b"); }));
  const auto t0 = std::chrono::steady_clock::now();
  a.put("racks/x", "x");
  REQUIRE(run_until(io, [&] { return b.store.size() == 1; }));
  // Not before SYNC_DELTA since the link's start (the hello is a sync point).
  CHECK(std::chrono::steady_clock::now() - t0 >= 300ms);
}

TEST_CASE("replication link: a new empty peer bootstraps in bounded chunks") {
  asio::io_context io;
  test_node a(io, "boot-a"), b(io, "boot-b");
  for (int i = 0; i < 5000; ++i) a.put("vms/vm" + std::to_string(i), "vm " + std::to_string(i));
  for (int i = 0; i < 100; ++i) a.store.remove("vms/vm" + std::to_string(i));
  a.options.target_frame_bytes = 16 * 1024;
  a.start();
  b.start({a.url()});
  REQUIRE(run_until(io, [&] { return same_state(a, b); }));
  CHECK(b.store.count_alive("vms") == 4900);
  REQUIRE(run_until(io, [&] { return a.status_of("boot-b")->pending == 0; }));
  CHECK(a.metric("horao_peer_records_sent_total", "boot-b") == 5000);
  const double bytes = a.metric("horao_peer_bytes_sent_total", "boot-b");
  // Many frames, none large: more than bytes / 16 KiB pushes' worth of frames.
  CHECK(bytes > 16 * 1024 * 10);
  CHECK(a.status_of("boot-b")->full_transfers == 1);
  check_clean({&a, &b});
}

TEST_CASE("replication link: equal states exchange nothing; a few differences send only their buckets") {
  asio::io_context io;
  test_node a(io, "ae-a"), b(io, "ae-b");
  // Same 4000 records on both, made on a and merged into b without replication.
  for (int i = 0; i < 4000; ++i) a.put("servers/s" + std::to_string(i), "s");
  a.store.changes_since(0, [&](std::uint64_t, std::string_view key, const store::stored_record& e) {
    b.store.merge(key, e.state, a.clock.self());
    return true;
  });
  REQUIRE(same_state(a, b));

  SECTION("equal digests: no record crosses") {
    b.start();
    a.start({b.url()});
    REQUIRE(run_until(io, [&] { return connected(a, "ae-b") && connected(b, "ae-a"); }));
    REQUIRE(run_until(
        io, [&] { return a.status_of("ae-b")->pending == 0 && b.status_of("ae-a")->pending == 0; }));
    CHECK(a.metric("horao_peer_records_sent_total", "ae-b") == 0);
    CHECK(b.metric("horao_peer_records_sent_total", "ae-a") == 0);
    // The cursors moved: a later reconnect resumes instead of comparing again.
    CHECK(b.cursors.get("recv:ae-a").value_or(0) == a.store.seq());
  }
  SECTION("three records differ: only their buckets are sent") {
    a.put("servers/s7", "changed on a");
    a.put("servers/new", "new on a");
    b.put("servers/s1234", "changed on b");
    b.start();
    a.start({b.url()});
    REQUIRE(run_until(io, [&] { return same_state(a, b) && a.store.size() == 4001; }));
    const double sent =
        a.metric("horao_peer_records_sent_total", "ae-b") + b.metric("horao_peer_records_sent_total", "ae-a");
    INFO("records sent both ways: " << sent);
    // Level 2 leaves the three that differ (each sent by both sides at most;
    // what a sends that b already holds is not counted), plus the new one.
    CHECK(sent >= 3);
    CHECK(sent <= 8);
  }
  check_clean({&a, &b});
}

TEST_CASE("replication link: a restart resumes from the cursors without a full transfer") {
  asio::io_context io;
  test_node a(io, "resume-a"), b(io, "resume-b");
  for (int i = 0; i < 1000; ++i) a.put("servers/s" + std::to_string(i), "s");
  b.start();
  a.start({b.url()});
  REQUIRE(run_until(io, [&] { return same_state(a, b) && a.status_of("resume-b")->pending == 0; }));
  const double sent_before = a.metric("horao_peer_records_sent_total", "resume-b");
  CHECK(sent_before == 1000);

  // b "restarts": its replicator goes away, its store and cursors stay (Redis).
  b.stop();
  REQUIRE(run_until(io, [&] { return !connected(a, "resume-b"); }));
  for (int i = 0; i < 10; ++i) a.put("servers/new" + std::to_string(i), "n");
  CHECK(a.status_of("resume-b")->pending == 10);
  b.start();
  REQUIRE(run_until(io, [&] { return same_state(a, b); }));
  REQUIRE(run_until(io, [&] { return a.status_of("resume-b")->pending == 0; }));
  CHECK(a.metric("horao_peer_records_sent_total", "resume-b") == sent_before + 10);
  CHECK(a.status_of("resume-b")->full_transfers == 1);      // only the first session
  CHECK(a.metric("horao_peer_reconnects_total", "") == 0);  // (url label, not peer)
  a.metrics.render();
  CHECK(a.metrics.value("horao_peer_reconnects_total", {{"url", b.url()}}) >= 1);
  check_clean({&a, &b});
}

TEST_CASE("replication link: a wrong secret replicates nothing and says why") {
  asio::io_context io;
  test_node a(io, "auth-a"), b(io, "auth-b");
  a.options.secret = "not the same";
  b.start();
  a.start({b.url()});
  a.put("datacenters/x", "x");
  REQUIRE(run_until(io, [&] {
    const auto rows = a.repl->status();
    return !rows.empty() && rows[0].last_error.find("401") != std::string::npos;
  }));
  run_for(io, 200ms);
  CHECK(b.store.size() == 0);
  CHECK(b.repl->status().empty());
  b.metrics.render();
  CHECK(b.metrics.value("horao_peer_auth_failures_total", {{"reason", "wrong peer token"}}) >= 1);
}

TEST_CASE("replication link: no PEER_SECRET refuses every inbound peer") {
  asio::io_context io;
  test_node a(io, "nosecret-a"), b(io, "nosecret-b");
  b.options.secret = "";
  b.start();
  a.start({b.url()});
  REQUIRE(run_until(io, [&] {
    const auto rows = a.repl->status();
    return !rows.empty() && rows[0].last_error.find("401") != std::string::npos;
  }));
  CHECK(b.repl->status().empty());
}

TEST_CASE("replication link: two daemons that dial each other keep one link") {
  asio::io_context io;
  test_node a(io, "dup-a"), b(io, "dup-b");
  a.listener->port();
  const std::string a_url = a.url(), b_url = b.url();
  a.start({b_url});
  b.start({a_url});
  REQUIRE(run_until(io, [&] { return connected(a, "dup-b") && connected(b, "dup-a"); }));
  a.put("racks/1", "x");
  b.put("racks/2", "y");
  REQUIRE(run_until(io, [&] { return same_state(a, b) && a.store.size() == 2; }));
  run_for(io, 500ms);
  // Still connected, and not flapping: a handful of attempts at most.
  CHECK(connected(a, "dup-b"));
  CHECK(connected(b, "dup-a"));
  a.metrics.render();
  b.metrics.render();
  CHECK(a.metrics.value("horao_peer_reconnects_total", {{"url", b_url}}) +
            b.metrics.value("horao_peer_reconnects_total", {{"url", a_url}}) <=
        3);
  // The kept link is the one dialed by the smaller node id ("dup-a").
  CHECK(a.repl->status()[0].connected);
  check_clean({&a, &b});
}

TEST_CASE("replication link: the CLOCK_OFFSET guard refuses a peer far ahead, whole deltas at a time") {
  asio::io_context io;
  test_node a(io, "skew-a"), b(io, "skew-b", /*clock_offset_s=*/1.0);
  a.time.offset_us = 30'000'000;  // a's clock runs 30 s ahead
  b.start();
  a.start({b.url()});
  REQUIRE(run_until(io, [&] { return connected(a, "skew-b"); }));
  a.put("servers/future", "from the future");
  REQUIRE(run_until(io, [&] {
    b.metrics.render();
    return b.metrics.value("horao_peer_rejected_deltas_total", {{"peer", "skew-a"}, {"reason", "clock"}}) >=
           2;
  }));
  CHECK(b.store.size() == 0);
  const auto* s = a.status_of("skew-b");
  REQUIRE(s);
  CHECK(s->last_error.find("clock") != std::string::npos);
  CHECK(s->pending == 1);
  // b's own writes still reach a (the other direction is unaffected).
  b.put("servers/present", "now");
  REQUIRE(run_until(io, [&] { return a.store.find("servers/present") != nullptr; }));
  // Once a's clock is sane again, its older write is still ahead: refused
  // until b's clock passes it. A fresh write from a sane a is accepted only
  // behind it, so nothing from a lands meanwhile.
  CHECK(b.store.find("servers/future") == nullptr);
}

TEST_CASE("replication link: a stalled peer holds a bounded number of bytes") {
  asio::io_context io;
  test_node a(io, "bp-a"), b(io, "bp-b");
  a.options.max_inflight_bytes = 256 * 1024;
  a.options.target_frame_bytes = 32 * 1024;
  for (int i = 0; i < 20000; ++i) a.put("vms/vm" + std::to_string(i), std::string(40, 'x'));
  b.durability.m = controlled_durability::mode::hold;  // b merges but never acks
  b.start();
  a.start({b.url()});
  REQUIRE(run_until(io, [&] { return b.store.size() > 0; }));
  run_for(io, 300ms);
  const auto* s = a.status_of("bp-b");
  REQUIRE(s);
  CHECK(s->inflight_bytes <= 256 * 1024 + 32 * 1024 + 4096);
  CHECK(b.store.size() < 20000);
  const double sent = a.metric("horao_peer_bytes_sent_total", "bp-b");
  CHECK(sent <= 256 * 1024 + 32 * 1024 + 8192);
  // Released, everything flows.
  b.durability.m = controlled_durability::mode::immediate;
  b.durability.release();
  REQUIRE(run_until(io, [&] { return same_state(a, b); }));
  REQUIRE(run_until(io, [&] { return a.status_of("bp-b")->pending == 0; }));
  check_clean({&a, &b});
}

TEST_CASE("replication link: a receiver that cannot persist refuses, and the sender retries") {
  asio::io_context io;
  test_node a(io, "dur-a"), b(io, "dur-b");
  b.durability.accepting = false;
  b.start();
  a.start({b.url()});
  REQUIRE(run_until(io, [&] { return connected(a, "dur-b"); }));
  a.put("racks/1", "x");
  REQUIRE(run_until(io, [&] {
    b.metrics.render();
    return b.metrics.value("horao_peer_rejected_deltas_total",
                           {{"peer", "dur-a"}, {"reason", "unavailable"}}) >= 1;
  }));
  CHECK(b.store.size() == 0);
  b.durability.accepting = true;
  REQUIRE(run_until(io, [&] { return same_state(a, b); }));

  // Merged but not durable in time: refused after the merge, resent, acked.
  b.durability.m = controlled_durability::mode::fail;
  a.put("racks/2", "y");
  REQUIRE(run_until(io, [&] { return b.store.size() == 2; }));
  REQUIRE(run_until(io, [&] {
    b.metrics.render();
    return b.metrics.value("horao_peer_rejected_deltas_total",
                           {{"peer", "dur-a"}, {"reason", "unavailable"}}) >= 2;
  }));
  CHECK(a.status_of("dur-b")->pending > 0);
  b.durability.m = controlled_durability::mode::immediate;
  REQUIRE(run_until(io, [&] { return a.status_of("dur-b")->pending == 0; }));
  check_clean({&a, &b});
}

TEST_CASE("replication link: only durable changes are sent") {
  asio::io_context io;
  test_node a(io, "hz-a"), b(io, "hz-b");
  b.start();
  a.start({b.url()});
  REQUIRE(run_until(io, [&] { return connected(a, "hz-b"); }));
  a.durability.m = controlled_durability::mode::hold;
  a.put("racks/1", "x");
  run_for(io, 200ms);
  CHECK(b.store.size() == 0);
  a.durability.m = controlled_durability::mode::immediate;
  a.durability.release();
  REQUIRE(run_until(io, [&] { return b.store.size() == 1; }));
}

TEST_CASE("replication link: graceful shutdown pushes what is pending first") {
  asio::io_context io;
  test_node a(io, "bye-a"), b(io, "bye-b");
  a.options.sync = {3600LL * 1'000'000, 1000};
  b.start();
  a.start({b.url()});
  REQUIRE(run_until(io, [&] { return connected(a, "bye-b"); }));
  for (int i = 0; i < 50; ++i) a.put("racks/r" + std::to_string(i), "r");
  run_for(io, 100ms);
  CHECK(b.store.size() == 0);
  bool done = false;
  a.repl->shutdown(5s, [&] { done = true; });
  REQUIRE(run_until(io, [&] { return done; }));
  CHECK(b.store.size() == 50);
  CHECK(a.cursors.get("bye-b").value_or(0) == a.store.seq());
}

TEST_CASE("replication link: ranges skipped without a frame keep the wire contiguous") {
  asio::io_context io;
  test_node a(io, "gap-a"), b(io, "gap-b");
  b.start();
  a.start({b.url()});
  REQUIRE(run_until(io, [&] { return connected(a, "gap-b") && connected(b, "gap-a"); }));
  // b's change lands in a's log: a's range for b holds only b's entry, which
  // a skips without a frame; a's own next change must still be accepted.
  for (int round = 0; round < 5; ++round) {
    b.put("racks/from-b-" + std::to_string(round), "b");
    REQUIRE(run_until(io, [&] { return a.store.size() == static_cast<std::size_t>(2 * round + 1); }));
    REQUIRE(run_until(io, [&] { return a.status_of("gap-b")->pending == 0; }));
    a.put("racks/from-a-" + std::to_string(round), "a");
    REQUIRE(run_until(
        io, [&] { return same_state(a, b) && b.store.size() == static_cast<std::size_t>(2 * round + 2); }));
  }
  // And after a refused delta, the resend starts where the receiver expects.
  b.durability.accepting = false;
  b.put("racks/b-local", "b");  // a local write still works on b's store directly
  REQUIRE(run_until(io, [&] { return a.store.find("racks/b-local") != nullptr; }));
  a.put("racks/refused-first", "a");
  REQUIRE(run_until(io, [&] {
    b.metrics.render();
    return b.metrics.value("horao_peer_rejected_deltas_total",
                           {{"peer", "gap-a"}, {"reason", "unavailable"}}) >= 1;
  }));
  b.durability.accepting = true;
  REQUIRE(run_until(io, [&] { return same_state(a, b); }));
  check_clean({&a, &b});
  CHECK(a.status_of("gap-b")->connected);
  a.metrics.render();
  CHECK(a.metrics.value("horao_peer_reconnects_total", {{"url", b.url()}}) == 0);
}
