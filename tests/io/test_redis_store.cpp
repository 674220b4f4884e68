#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "horao/app/metrics.hpp"
#include "horao/app/tombstone_gc.hpp"
#include "horao/crdt/clock.hpp"
#include "horao/crdt/codec.hpp"
#include "horao/persist/entry_codec.hpp"
#include "horao/persist/redis_metrics.hpp"
#include "horao/persist/redis_store.hpp"
#include "horao/store/record_store.hpp"
#include "redis_server_fixture.hpp"
#include "redis_test_support.hpp"

using namespace horao;
using namespace std::chrono_literals;
using persist::redis_store;

namespace {

// One daemon's worth of state: clock, store, connection, persistence.
struct node {
  crdt::system_time_source time;
  crdt::hybrid_clock clock;
  store::record_store store;
  app::metric_registry metrics;
  std::shared_ptr<redis_store> persistence;
  std::optional<persist::load_report> report;

  node(test::io_harness& h, const std::string& url, const std::string& node_id,
       app::persist_mode mode = app::persist_mode::sync,
       std::function<void(persist::redis_store_options&)> tweak = {})
      : clock(*crdt::node_names().intern(node_id), time), store(clock) {
    persist::redis_connection_options co;
    co.endpoint = *persist::parse_redis_url(url);
    co.command_timeout = 500ms;
    co.backoff_initial = 20ms;
    co.backoff_max = 200ms;
    persist::redis_store_options so;
    so.node_id = node_id;
    so.mode = mode;
    so.command_timeout = 500ms;
    so.durable_timeout = 600ms;
    so.retry_initial = 20ms;
    so.retry_max = 200ms;
    so.load_chunk = 50;  // several SCAN rounds even for small data sets
    if (tweak) tweak(so);
    persistence =
        redis_store::create(h.io, store, persist::redis_connection::create(h.io, co, &metrics), so, &metrics);
  }
  ~node() { persistence->stop(); }

  void start() {
    persistence->start([this](const persist::load_report& r) { report = r; });
  }
  bool load(test::io_harness& h) {
    start();
    return h.run_until([&] { return report.has_value(); });
  }
  std::uint64_t put(const std::string& key, const std::string& name_value) {
    std::vector<crdt::field_write> f{{"name", nlohmann::json(name_value).dump()}, {"n", "1"}};
    return store.put(key, f).entry->seq;
  }
};

std::vector<crdt::field_write> fields(std::initializer_list<std::pair<std::string, std::string>> l) {
  std::vector<crdt::field_write> out;
  for (const auto& [k, v] : l) out.push_back({k, v});
  return out;
}

// Every record of `s` is in Redis under `prefix`, with its state and sequence.
void check_redis_matches(const test::redis_server& server, const store::record_store& s,
                         const std::string& prefix = "horao:") {
  std::size_t checked = 0;
  s.changes_since(0, [&](std::uint64_t seq, std::string_view key, const store::stored_record& entry) {
    auto value = server.command({"GET", prefix + "r:" + std::string(key)});
    REQUIRE(value.is_string());
    auto decoded = persist::decode_entry(value.str);
    REQUIRE(decoded);
    CHECK(decoded->seq == seq);
    CHECK(decoded->state == entry.state);
    ++checked;
    return true;
  });
  CHECK(checked == s.size());
}

}  // namespace

TEST_CASE("redis_store: a fresh prefix loads empty and is claimed for this node") {
  test::redis_server server;
  test::io_harness h;
  node a(h, server.url(), "dc-a");
  std::string reason;
  CHECK_FALSE(a.persistence->accepting_writes(&reason));
  CHECK(reason.starts_with("loading"));
  REQUIRE(a.load(h));
  REQUIRE(a.report->ok);
  CHECK(a.report->records == 0);
  CHECK(a.report->skipped == 0);
  CHECK(a.persistence->accepting_writes(nullptr));
  auto meta = server.command({"HGETALL", "horao:meta"});
  REQUIRE(meta.is_array());
  std::map<std::string, std::string> m;
  for (std::size_t i = 0; i + 1 < meta.elements.size(); i += 2)
    m[meta.elements[i].str] = meta.elements[i + 1].str;
  CHECK(m["node_id"] == "dc-a");
  CHECK(m["format"] == std::to_string(persist::format_version));
  CHECK(m["seq"] == "0");
}

TEST_CASE("redis_store: group commit coalesces changes made while a batch is in flight") {
  test::redis_server server;
  test::io_harness h;
  node a(h, server.url(), "dc-a");
  REQUIRE(a.load(h));

  int durable = 0, not_durable = 0;
  auto wait_for = [&](std::uint64_t seq) {
    a.persistence->when_durable(seq, [&](bool ok) { ok ? ++durable : ++not_durable; });
  };
  wait_for(a.put("server/s0", "first"));
  REQUIRE(h.run_until([&] { return a.persistence->batch_in_flight(); }));
  // 500 records and 500 rewrites of the same keys while the first batch is in flight.
  for (int round = 0; round < 2; ++round)
    for (int i = 1; i <= 500; ++i)
      wait_for(a.put("server/s" + std::to_string(i), "v" + std::to_string(round)));
  CHECK(a.persistence->pending_keys() == 501);
  REQUIRE(h.run_until([&] { return durable + not_durable == 1001; }));
  CHECK(not_durable == 0);
  const auto& st = a.persistence->statistics();
  CHECK(st.batches_ok == 2);
  CHECK(st.last_batch_keys == 500);  // coalesced per key
  CHECK(a.persistence->persisted_seq() == a.store.seq());
  CHECK(a.persistence->pending_keys() == 0);
  check_redis_matches(server, a.store);
  CHECK(server.command({"HGET", "horao:meta", "seq"}).str == std::to_string(a.store.seq()));
  CHECK(server.command({"HGET", "horao:meta", "persisted"}).str == std::to_string(a.store.seq()));
  CHECK(a.metrics.value(persist::metric_persisted_seq) == static_cast<double>(a.store.seq()));
  const std::string rendered = a.metrics.render();
  CHECK(rendered.find("horao_redis_batch_size_count 2") != std::string::npos);
  CHECK(rendered.find("horao_redis_persist_seconds_count 2") != std::string::npos);
  CHECK(rendered.find("horao_redis_pending_keys 0") != std::string::npos);
}

TEST_CASE("redis_store: a batch sent behind a failed one does not claim the failed changes are persisted") {
  test::redis_server server;
  test::io_harness h;
  node a(h, server.url(), "dc-a");
  REQUIRE(a.load(h));
  // A peers hash that is a string makes the HSET peers of a batch fail inside
  // EXEC: the batch that carries a cursor fails, one without a cursor passes.
  REQUIRE(server.command({"SET", "horao:peers", "not-a-hash"}).is_status("OK"));

  std::optional<bool> first, second;
  const std::uint64_t seq1 = a.put("server/s1", "x");
  a.persistence->set_peer_cursor("dc-b", 7);
  a.persistence->when_durable(seq1, [&](bool ok) { first = ok; });
  REQUIRE(h.run_until([&] { return a.persistence->batches_in_flight() == 1; }));
  const std::uint64_t seq2 = a.put("server/s2", "y");
  a.persistence->when_durable(seq2, [&](bool ok) { second = ok; });
  REQUIRE(h.run_until([&] { return a.persistence->batches_in_flight() == 2; }));

  // The first fails, the second is written, yet nothing up to seq1 counts as persisted.
  REQUIRE(h.run_until([&] { return a.persistence->statistics().batches_ok >= 1; }));
  CHECK(a.persistence->statistics().batches_failed >= 1);
  CHECK(a.persistence->persisted_seq() < seq1);
  CHECK_FALSE(second.value_or(false));
  CHECK(server.command({"EXISTS", "horao:r:server/s2"}).integer == 1);

  // Once Redis takes the cursor again, the failed change goes out and both are durable.
  REQUIRE(server.command({"DEL", "horao:peers"}).integer == 1);
  REQUIRE(h.run_until(
      [&] { return a.persistence->settled() && a.persistence->persisted_seq() == a.store.seq(); }));
  check_redis_matches(server, a.store);
  CHECK(server.command({"HGET", "horao:peers", "dc-b"}).str == "7");
}

TEST_CASE("redis_store: a batch larger than the socket takes at once is written in parts") {
  // Each batch is tried at once; what the socket does not take waits for it
  // to become writable (redis_asio). Batches of about 4 MiB are far beyond a
  // socket buffer.
  test::redis_server server;
  test::io_harness h;
  node a(h, server.url(), "dc-a");
  REQUIRE(a.load(h));
  const std::string big(4096, 'x');
  std::uint64_t last = 0;
  for (int i = 0; i < 2500; ++i) last = a.put("vm/big" + std::to_string(i), big + std::to_string(i));
  bool ok = false;
  a.persistence->when_durable(last, [&](bool r) { ok = r; });
  // A stopped Redis reads nothing: the first attempt fills the socket and the
  // rest waits; well within the 500 ms command timeout, Redis goes on.
  server.pause();
  h.run_for(150ms);
  CHECK_FALSE(ok);
  server.resume();
  REQUIRE(h.run_until([&] { return ok; }, std::chrono::seconds(30)));
  CHECK(a.persistence->statistics().batches_ok >= 2);
  check_redis_matches(server, a.store);
}

TEST_CASE("redis_store: batches are bounded and follow each other") {
  test::redis_server server;
  test::io_harness h;
  node a(h, server.url(), "dc-a", app::persist_mode::sync,
         [](persist::redis_store_options& o) { o.max_batch_keys = 100; });
  REQUIRE(a.load(h));
  std::uint64_t last = 0;
  for (int i = 0; i < 1050; ++i) last = a.put("vm/v" + std::to_string(i), "x");
  bool ok = false;
  a.persistence->when_durable(last, [&](bool r) { ok = r; });
  REQUIRE(h.run_until([&] { return ok; }));
  CHECK(a.persistence->statistics().max_batch_keys == 100);
  CHECK(a.persistence->statistics().batches_ok == 11);
  check_redis_matches(server, a.store);
}

TEST_CASE("redis_store: recovery into a fresh store reproduces records, digest, sequence and peer cursors") {
  test::redis_server server;
  test::io_harness h;
  crdt::hash128 digest;
  std::uint64_t seq = 0;
  std::size_t size = 0;
  std::map<std::string, crdt::record> states;
  std::vector<std::pair<std::uint64_t, std::string>> log;
  auto change_log = [](const store::record_store& s) {
    std::vector<std::pair<std::uint64_t, std::string>> out;
    s.changes_since(0, [&](std::uint64_t seq, std::string_view k, const store::stored_record&) {
      out.emplace_back(seq, std::string(k));
      return true;
    });
    return out;
  };
  {
    node a(h, server.url(), "dc-a");
    REQUIRE(a.load(h));
    for (int i = 0; i < 300; ++i) a.put("server/s" + std::to_string(i), "name-" + std::to_string(i));
    auto patch = fields({{"rack", "\"r1\""}, {"n", ""}});
    for (int i = 0; i < 300; i += 3) REQUIRE(a.store.patch("server/s" + std::to_string(i), patch));
    for (int i = 1; i < 300; i += 7) REQUIRE(a.store.remove("server/s" + std::to_string(i)));
    a.put("tenant/t1", "acme");
    a.persistence->set_peer_cursor("dc-b", 1234);
    a.persistence->set_peer_cursor("dc-c", 7);
    bool flushed = false;
    a.persistence->flush(5s, [&](bool ok) { flushed = ok; });
    REQUIRE(h.run_until([&] { return flushed; }));
    log = change_log(a.store);
    digest = a.store.digest();
    seq = a.store.seq();
    size = a.store.size();
    a.store.changes_since(0, [&](std::uint64_t, std::string_view k, const store::stored_record& e) {
      states.emplace(std::string(k), e.state);
      return true;
    });
  }
  node b(h, server.url(), "dc-a");
  REQUIRE(b.load(h));
  REQUIRE(b.report->ok);
  CHECK(b.report->records == size);
  CHECK(b.report->entries == size);
  CHECK(b.report->skipped == 0);
  CHECK(b.report->peers == 2);
  CHECK(b.report->seq == seq);
  CHECK(b.store.seq() == seq);
  CHECK(b.store.digest() == digest);
  CHECK(b.store.size() == size);
  CHECK(b.store.count_alive("server") == 300 - 43);
  for (const auto& [k, state] : states) {
    const auto* e = b.store.find(k);
    REQUIRE(e);
    CHECK(e->state == state);
  }
  CHECK(change_log(b.store) == log);  // the change log, in sequence order, as peers resume from it
  std::vector<std::pair<std::uint64_t, std::string>> tail;
  b.store.changes_since(seq - 5, [&](std::uint64_t s, std::string_view k, const store::stored_record&) {
    tail.emplace_back(s, std::string(k));
    return true;
  });
  CHECK(tail == std::vector<std::pair<std::uint64_t, std::string>>(log.end() - 5, log.end()));
  CHECK(b.persistence->peer_cursor("dc-b") == 1234u);
  CHECK(b.persistence->peer_cursor("dc-c") == 7u);
  CHECK_FALSE(b.persistence->peer_cursor("dc-z"));
  // New changes continue the sequence, never reuse it.
  CHECK(b.put("server/new", "x") == seq + 1);
}

TEST_CASE("redis_store: corrupt and foreign entries are reported and skipped, never fatal") {
  test::redis_server server;
  test::io_harness h;
  {
    node a(h, server.url(), "dc-a");
    REQUIRE(a.load(h));
    for (int i = 0; i < 20; ++i) a.put("server/s" + std::to_string(i), "ok");
    bool flushed = false;
    a.persistence->flush(5s, [&](bool ok) { flushed = ok; });
    REQUIRE(h.run_until([&] { return flushed; }));
  }
  crdt::record valid(crdt::hlc{1'700'000'000'000'000, 0, *crdt::node_names().intern("dc-a")}, crdt::hlc{},
                     {});
  std::string wrong_shape, zero_seq;
  nlohmann::json::to_cbor(nlohmann::json::array({1, 2}), wrong_shape);
  nlohmann::json::to_cbor(nlohmann::json{{"s", 0}, {"r", crdt::encode_record(valid)}}, zero_seq);
  server.command({"SET", "horao:r:server/garbage", std::string("\xff\x00\x13garbage", 10)});
  server.command({"SET", "horao:r:server/shape", wrong_shape});
  server.command({"SET", "horao:r:server/zero", zero_seq});
  server.command({"SET", "horao:r:server/deep", std::string(100000, '\x81')});
  server.command({"SET", "horao:r:server/empty", ""});
  server.command({"SET", "horao:r:noslash", persist::encode_entry(3, valid)});
  server.command({"HSET", "horao:r:server/hash", "a", "b"});
  server.command({"SET", "horao:something-else", "x"});
  server.command({"SET", "horao:r:\x01\x02/\n", persist::encode_entry(3, valid)});
  server.command({"HSET", "horao:peers", "dc-b", "not-a-number"});
  server.command({"SET", "unrelated:key", "not ours, not reported"});

  test::log_capture logs;
  node b(h, server.url(), "dc-a");
  REQUIRE(b.load(h));
  REQUIRE(b.report->ok);
  CHECK(b.report->records == 21);  // the 20 good ones and the control-character key (kind and id are there)
  CHECK(b.report->skipped == 9);
  CHECK(b.metrics.value(persist::metric_load_skipped) == 9);
  std::set<std::string> keys;
  for (const auto& [key, reason] : b.report->skipped_examples) keys.insert(key);
  CHECK(keys == std::set<std::string>{"horao:r:server/garbage", "horao:r:server/shape", "horao:r:server/zero",
                                      "horao:r:server/deep", "horao:r:server/empty", "horao:r:noslash",
                                      "horao:r:server/hash", "horao:something-else",
                                      "horao:peers (field dc-b)"});
  CHECK(logs.contains("skipping 'horao:r:server/garbage'"));
  CHECK(b.persistence->accepting_writes(nullptr));
  // Skipped entries are left in Redis for the operator.
  CHECK(server.command({"EXISTS", "horao:r:server/garbage"}).integer == 1);
}

TEST_CASE("redis_store: a newer format version refuses the start") {
  test::redis_server server;
  test::io_harness h;
  const std::string newer = std::to_string(persist::format_version + 1);
  server.command({"HSET", "horao:meta", "format", newer, "node_id", "dc-a"});
  server.command({"SET", "horao:r:server/s1", "whatever"});
  node a(h, server.url(), "dc-a");
  REQUIRE(a.load(h));
  CHECK_FALSE(a.report->ok);
  CHECK(a.report->error.find("format version " + newer) != std::string::npos);
  CHECK(a.report->error.find("newer") != std::string::npos);
  std::string reason;
  CHECK_FALSE(a.persistence->accepting_writes(&reason));
  CHECK(reason.starts_with("refused"));
  CHECK(server.command({"HGET", "horao:meta", "format"}).str == newer);  // untouched
}

TEST_CASE("redis_store: format 1 entries of an older daemon load and are rewritten in format 2") {
  test::redis_server server;
  test::io_harness h;
  const auto dc_a = *crdt::node_names().intern("dc-a");
  crdt::record r(
      crdt::hlc{1'700'000'000'000'000, 1, dc_a}, crdt::hlc{},
      {crdt::field_entry{crdt::hlc{1'700'000'000'000'000, 1, dc_a}, *crdt::field_names().intern("cpus"),
                         R"([{"cores":64,"model":"EPYC"}])"}});
  std::string v1;
  nlohmann::json::to_cbor(nlohmann::json{{"s", 7}, {"r", crdt::encode_record(r)}}, v1);
  server.command({"HSET", "horao:meta", "format", "1", "node_id", "dc-a", "seq", "7", "persisted", "7"});
  server.command({"SET", "horao:r:server/old", v1});
  node a(h, server.url(), "dc-a");
  REQUIRE(a.load(h));
  REQUIRE(a.report->ok);
  CHECK(a.report->skipped == 0);
  REQUIRE(a.store.find("server/old"));
  CHECK(a.store.find("server/old")->state == r);
  CHECK(a.store.find("server/old")->seq == 7);
  CHECK(server.command({"HGET", "horao:meta", "format"}).str == std::to_string(persist::format_version));

  const auto seq = a.put("server/old", "changed");
  bool ok = false;
  a.persistence->when_durable(seq, [&](bool d) { ok = d; });
  REQUIRE(h.run_until([&] { return ok; }));
  const auto value = server.command({"GET", "horao:r:server/old"});
  REQUIRE(value.is_string());
  CHECK(static_cast<unsigned char>(value.str.front()) == 0x82);  // [seq, record]
  check_redis_matches(server, a.store);
}

TEST_CASE("redis_store: another node's prefix refuses the start") {
  test::redis_server server;
  test::io_harness h;
  server.command({"HSET", "horao:meta", "format", "1", "node_id", "dc-other", "seq", "10"});
  node a(h, server.url(), "dc-a");
  REQUIRE(a.load(h));
  CHECK_FALSE(a.report->ok);
  CHECK(a.report->error.find("'dc-other'") != std::string::npos);
  CHECK(a.report->error.find("'dc-a'") != std::string::npos);
  CHECK(a.report->error.find("REDIS_PREFIX") != std::string::npos);
  bool answered = false, result = true;
  a.persistence->when_durable(a.store.seq() + 1, [&](bool ok) {
    answered = true;
    result = ok;
  });
  CHECK(answered);
  CHECK_FALSE(result);

  // Another prefix on the same Redis is fine.
  node b(h, server.url(), "dc-a", app::persist_mode::sync, [](auto& o) { o.prefix = "dc-a:"; });
  REQUIRE(b.load(h));
  CHECK(b.report->ok);
}

TEST_CASE("redis_store: sync mode with Redis down refuses writes, then writes everything when it returns") {
  test::redis_server server;
  test::io_harness h;
  node a(h, server.url(), "dc-a");
  REQUIRE(a.load(h));
  const auto before = a.put("server/before", "x");
  bool first = false;
  a.persistence->when_durable(before, [&](bool ok) { first = ok; });
  REQUIRE(h.run_until([&] { return first; }));

  server.kill();
  REQUIRE(h.run_until([&] { return !a.persistence->connection()->ready(); }));
  std::string reason;
  CHECK_FALSE(a.persistence->accepting_writes(&reason));
  CHECK(reason.find("redis unavailable") != std::string::npos);
  CHECK(a.metrics.value(persist::metric_connected) == 0);

  // A change made anyway (e.g. merged from a peer): not acknowledged in time.
  const auto during = a.put("server/during", "y");
  a.store.remove("server/before");
  std::optional<bool> second;
  const auto asked = std::chrono::steady_clock::now();
  a.persistence->when_durable(during, [&](bool ok) { second = ok; });
  REQUIRE(h.run_until([&] { return second.has_value(); }));
  CHECK_FALSE(*second);
  CHECK(std::chrono::steady_clock::now() - asked >= 600ms);
  CHECK(a.persistence->pending_keys() == 2);  // still in memory, still to be written

  server.start();
  REQUIRE(h.run_until([&] { return a.persistence->accepting_writes(nullptr); }));
  REQUIRE(h.run_until([&] { return a.persistence->pending_keys() == 0; }));
  CHECK(a.persistence->persisted_seq() == a.store.seq());
  check_redis_matches(server, a.store);
  bool third = false;
  a.persistence->when_durable(a.put("server/after", "z"), [&](bool ok) { third = ok; });
  REQUIRE(h.run_until([&] { return third; }));
  CHECK(a.metrics.value(persist::metric_reconnects) >= 1);
}

TEST_CASE("redis_store: async mode acknowledges at once and catches up after an outage") {
  test::redis_server server;
  test::io_harness h;
  node a(h, server.url(), "dc-a", app::persist_mode::async);
  REQUIRE(a.load(h));
  server.kill();
  REQUIRE(h.run_until([&] { return !a.persistence->connection()->ready(); }));
  CHECK(a.persistence->accepting_writes(nullptr));
  bool answered = false;
  a.persistence->when_durable(a.put("server/s1", "x"), [&](bool ok) { answered = ok; });
  CHECK(answered);
  server.start();
  REQUIRE(h.run_until([&] { return a.persistence->persisted_seq() == a.store.seq(); }));
  check_redis_matches(server, a.store);
}

TEST_CASE("redis_store: Redis that lost its data is rewritten after the reconnect") {
  test::redis_server server;
  test::io_harness h;
  node a(h, server.url(), "dc-a");
  REQUIRE(a.load(h));
  std::uint64_t last = 0;
  for (int i = 0; i < 120; ++i) last = a.put("server/s" + std::to_string(i), "x");
  bool ok = false;
  a.persistence->when_durable(last, [&](bool r) { ok = r; });
  REQUIRE(h.run_until([&] { return ok; }));
  a.persistence->set_peer_cursor("dc-b", 99);
  REQUIRE(h.run_until([&] { return a.persistence->settled(); }));
  REQUIRE(server.command({"HGET", "horao:peers", "dc-b"}).str == "99");

  server.command({"FLUSHALL"});
  server.kill();  // the AOF replays the FLUSHALL: Redis comes back empty
  REQUIRE(h.run_until([&] { return !a.persistence->connection()->ready(); }));
  server.start();
  REQUIRE(h.run_until([&] { return a.persistence->connection()->ready(); }));
  REQUIRE(h.run_until([&] { return a.persistence->accepting_writes(nullptr) && a.persistence->settled(); }));
  check_redis_matches(server, a.store);
  CHECK(server.command({"HGET", "horao:meta", "node_id"}).str == "dc-a");
  CHECK(server.command({"HGET", "horao:peers", "dc-b"}).str == "99");
}

TEST_CASE("redis_store: a purged tombstone is deleted from Redis") {
  test::redis_server server;
  test::io_harness h;
  node a(h, server.url(), "dc-a");
  REQUIRE(a.load(h));
  a.put("vm/gone", "x");
  a.put("vm/stays", "y");
  REQUIRE(a.store.remove("vm/gone"));
  bool ok = false;
  a.persistence->when_durable(a.store.seq(), [&](bool r) { ok = r; });
  REQUIRE(h.run_until([&] { return ok; }));
  CHECK(server.command({"EXISTS", "horao:r:vm/gone"}).integer == 1);  // the tombstone

  const auto purged = a.store.purge_tombstones(std::numeric_limits<std::int64_t>::max(), 100);
  REQUIRE(purged == 1);
  a.persistence->purged("vm/gone");
  REQUIRE(h.run_until([&] { return a.persistence->settled(); }));
  CHECK(server.command({"EXISTS", "horao:r:vm/gone"}).integer == 0);
  CHECK(server.command({"EXISTS", "horao:r:vm/stays"}).integer == 1);
}

TEST_CASE("tombstone_gc: purged tombstones leave Redis and stay gone after a restart") {
  test::redis_server server;
  test::io_harness h;
  crdt::hash128 digest;
  std::uint64_t horizon = 0;
  {
    node a(h, server.url(), "dc-a");
    REQUIRE(a.load(h));
    for (int i = 0; i < 30; ++i) a.put("vm/v" + std::to_string(i), "x");
    for (int i = 0; i < 30; i += 3) REQUIRE(a.store.remove("vm/v" + std::to_string(i)));
    bool ok = false;
    a.persistence->when_durable(a.store.seq(), [&](bool r) { ok = r; });
    REQUIRE(h.run_until([&] { return ok; }));
    REQUIRE(server.command({"EXISTS", "horao:r:vm/v0"}).integer == 1);  // tombstones are persisted

    // TTL 0: everything dead is old enough. A few entries per tick: a pass
    // takes several ticks, each handing its keys to persistence.
    app::tombstone_gc_options o;
    o.ttl = 0s;
    o.pass_interval = 20ms;
    o.tick_gap = 1ms;
    o.scan_per_tick = 4;
    auto gc = app::tombstone_gc::create(h.io, a.store, o, &a.metrics);
    gc->on_purged([&](std::string_view key) { a.persistence->purged(key); });
    gc->start();
    REQUIRE(h.run_until([&] { return gc->statistics().purged == 10 && a.persistence->settled(); }));
    gc->stop();
    CHECK(gc->statistics().ticks > 1);
    CHECK(a.metrics.value("horao_tombstones_purged_total") == 10);
    CHECK(a.store.tombstones() == 0);
    for (int i = 0; i < 30; ++i) {
      const auto key = "horao:r:vm/v" + std::to_string(i);
      CHECK(server.command({"EXISTS", key}).integer == (i % 3 == 0 ? 0 : 1));
    }
    check_redis_matches(server, a.store);
    digest = a.store.digest();
    horizon = a.store.oldest_replayable();
    REQUIRE(horizon > 0);
    CHECK(server.command({"HGET", "horao:meta", "purged"}).str == std::to_string(horizon));
  }
  node b(h, server.url(), "dc-a");
  REQUIRE(b.load(h));
  // The horizon survives the restart: a peer behind it still gets a full
  // transfer rather than a change log with the purged deletions missing.
  CHECK(b.store.oldest_replayable() == horizon);
  CHECK(b.report->records == 20);
  CHECK(b.store.find("vm/v0") == nullptr);
  CHECK(b.store.find("vm/v1") != nullptr);
  CHECK(b.store.digest() == digest);
}

TEST_CASE("tombstone_gc: a key written again before the batch is kept, not deleted") {
  test::redis_server server;
  test::io_harness h;
  node a(h, server.url(), "dc-a");
  REQUIRE(a.load(h));
  a.put("vm/again", "x");
  REQUIRE(a.store.remove("vm/again"));
  // The purge and the new write land in the same batch: the store holds the
  // new record when the batch is built, so Redis gets it, not a DEL.
  REQUIRE(a.store.purge_tombstones(std::numeric_limits<std::int64_t>::max(), 10,
                                   [&](std::string_view key) { a.persistence->purged(key); }) == 1);
  const auto seq = a.put("vm/again", "y");
  bool ok = false;
  a.persistence->when_durable(seq, [&](bool r) { ok = r; });
  REQUIRE(h.run_until([&] { return ok && a.persistence->settled(); }));
  auto value = server.command({"GET", "horao:r:vm/again"});
  REQUIRE(value.is_string());
  auto decoded = persist::decode_entry(value.str);
  REQUIRE(decoded);
  CHECK(decoded->state.alive());
  CHECK(decoded->seq == seq);
}

TEST_CASE("redis_store: Redis unreachable at start keeps loading, then loads when it comes") {
  test::redis_server server({.start = false});
  test::io_harness h;
  node a(h, server.url(), "dc-a");
  a.start();
  h.run_for(300ms);
  CHECK_FALSE(a.report);
  std::string reason;
  CHECK_FALSE(a.persistence->accepting_writes(&reason));
  CHECK(reason.starts_with("loading: redis unavailable"));
  server.start();
  REQUIRE(h.run_until([&] { return a.report.has_value(); }));
  CHECK(a.report->ok);
  CHECK(a.persistence->accepting_writes(nullptr));
}

TEST_CASE("redis_store: flush writes the last batch before shutdown") {
  test::redis_server server;
  test::io_harness h;
  std::uint64_t seq = 0;
  {
    node a(h, server.url(), "dc-a", app::persist_mode::async);
    REQUIRE(a.load(h));
    for (int i = 0; i < 200; ++i) a.put("server/s" + std::to_string(i), "x");
    seq = a.store.seq();
    std::optional<bool> flushed;
    a.persistence->flush(5s, [&](bool ok) { flushed = ok; });
    REQUIRE(h.run_until([&] { return flushed.has_value(); }));
    CHECK(*flushed);
    check_redis_matches(server, a.store);
  }
  node b(h, server.url(), "dc-a");
  REQUIRE(b.load(h));
  CHECK(b.store.seq() == seq);
  CHECK(b.store.size() == 200);
}

TEST_CASE("redis_store: flush reports false when Redis cannot take the last batch in time") {
  test::redis_server server;
  test::io_harness h;
  node a(h, server.url(), "dc-a", app::persist_mode::async);
  REQUIRE(a.load(h));
  server.kill();
  REQUIRE(h.run_until([&] { return !a.persistence->connection()->ready(); }));
  a.put("server/s1", "x");
  std::optional<bool> flushed;
  a.persistence->flush(300ms, [&](bool ok) { flushed = ok; });
  REQUIRE(h.run_until([&] { return flushed.has_value(); }));
  CHECK_FALSE(*flushed);
}

TEST_CASE(
    "redis_store: a Redis that refuses batches (out of memory) refuses writes until it takes them again") {
  test::redis_server server;
  test::io_harness h;
  node a(h, server.url(), "dc-a");
  REQUIRE(a.load(h));
  std::vector<std::uint64_t> persisted;
  a.persistence->on_persisted([&](std::uint64_t seq) { persisted.push_back(seq); });
  REQUIRE(server.command({"CONFIG", "SET", "maxmemory", "1"}).is_status("OK"));

  std::optional<bool> first;
  a.persistence->when_durable(a.put("server/s1", "x"), [&](bool ok) { first = ok; });
  REQUIRE(h.run_until([&] { return first.has_value(); }));
  CHECK_FALSE(*first);
  std::string reason;
  CHECK_FALSE(a.persistence->accepting_writes(&reason));
  CHECK(reason.find("OOM") != std::string::npos);
  CHECK(a.persistence->statistics().batches_failed >= 1);
  CHECK(a.metrics.value(persist::metric_errors, {{"kind", "batch"}}) >= 1);
  CHECK(a.persistence->connection()->ready());  // a refusal is not a connection failure

  REQUIRE(server.command({"CONFIG", "SET", "maxmemory", "0"}).is_status("OK"));
  REQUIRE(h.run_until([&] { return a.persistence->accepting_writes(nullptr) && a.persistence->settled(); }));
  check_redis_matches(server, a.store);
  REQUIRE_FALSE(persisted.empty());
  CHECK(persisted.back() == a.store.seq());
}
