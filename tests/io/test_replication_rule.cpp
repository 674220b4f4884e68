// The pure parts of replication: the sync rule with injected time, the
// per-peer cursor and backpressure state machine, backoff, bucket digests.
#include <catch2/catch.hpp>

#include "horao/replication/backoff.hpp"
#include "horao/replication/buckets.hpp"
#include "horao/replication/peer_cursor.hpp"
#include "horao/replication/protocol.hpp"
#include "horao/replication/sync_rule.hpp"

using namespace horao;
using namespace horao::replication;

namespace {
constexpr std::int64_t s = 1'000'000;  // one second in microseconds

struct fake_time : crdt::time_source {
  std::int64_t now = 1'700'000'000'000'000;
  std::int64_t now_us() const override { return now; }
};
}  // namespace

TEST_CASE("sync rule: time branch, count branch, nothing pending") {
  const sync_settings cfg{3600 * s, 5};
  const std::int64_t t0 = 1'000 * s;
  // Nothing pending never pushes, however long ago the last push was.
  CHECK_FALSE(should_push(cfg, t0 + 10'000 * s, t0, 0));
  // Five pending stay local within SYNC_DELTA; the sixth pushes.
  for (std::uint64_t pending = 1; pending <= 5; ++pending) CHECK_FALSE(should_push(cfg, t0 + s, t0, pending));
  CHECK(should_push(cfg, t0 + s, t0, 6));
  // Once SYNC_DELTA has passed, one pending change is enough.
  CHECK_FALSE(should_push(cfg, t0 + 3600 * s - 1, t0, 1));
  CHECK(should_push(cfg, t0 + 3600 * s, t0, 1));
  // The timer's deadline.
  CHECK_FALSE(push_deadline(cfg, t0, 0).has_value());
  CHECK(*push_deadline(cfg, t0, 3) == t0 + 3600 * s);
}

TEST_CASE("sync rule: SYNC_MAX=0 pushes every change at once; SYNC_DELTA=0 too") {
  CHECK(should_push({3600 * s, 0}, 0, 0, 1));
  CHECK_FALSE(should_push({3600 * s, 0}, 0, 0, 0));
  CHECK(should_push({0, 1000}, 5, 5, 1));
}

TEST_CASE("peer cursor: a session sends, acks advance, bytes are bounded") {
  peer_cursor c(100);
  CHECK_FALSE(c.can_send());  // no session
  c.restore(7);
  CHECK(c.acked() == 7);
  CHECK(c.pending(10) == 3);
  c.start_session(5);  // the peer says it has only 5 (e.g. lost its tail)
  CHECK(c.acked() == 5);
  CHECK_FALSE(c.can_send());  // nothing requested yet
  c.request_push(20);
  CHECK(c.can_send());
  c.on_sent(10, 60);
  CHECK(c.can_send());
  c.on_sent(15, 60);  // 120 bytes in flight >= 100
  CHECK_FALSE(c.can_send());
  CHECK(c.inflight_bytes() == 120);
  CHECK(c.on_ack(10) == peer_cursor::ack_result::advanced);
  CHECK(c.acked() == 10);
  CHECK(c.inflight_bytes() == 60);
  CHECK(c.can_send());
  CHECK(c.on_ack(10) == peer_cursor::ack_result::stale);
  CHECK(c.on_ack(16) == peer_cursor::ack_result::unexpected);  // never sent
  CHECK(c.acked() == 10);
  c.on_sent(20, 10);
  CHECK(c.push_done());
  CHECK_FALSE(c.can_send());
  // Acks may cover several deltas at once.
  CHECK(c.on_ack(20) == peer_cursor::ack_result::advanced);
  CHECK(c.inflight_bytes() == 0);
  CHECK(c.inflight_deltas() == 0);
  CHECK(c.pending(20) == 0);
}

TEST_CASE("peer cursor: skipped ranges (changes from the peer itself) need no ack of their own") {
  peer_cursor c;
  c.start_session(0);
  c.request_push(30);
  // Nothing in flight: a skipped range is acknowledged at once.
  c.on_skipped(5);
  CHECK(c.acked() == 5);
  c.on_sent(10, 50);
  c.on_skipped(14);  // behind an unacknowledged delta: waits for it
  CHECK(c.acked() == 5);
  CHECK(c.sent() == 14);
  c.on_sent(20, 50);
  c.on_skipped(30);
  CHECK(c.on_ack(10) == peer_cursor::ack_result::advanced);
  CHECK(c.acked() == 14);  // 10 acked, then the skipped (10, 14]
  CHECK(c.on_ack(20) == peer_cursor::ack_result::advanced);
  CHECK(c.acked() == 30);
  CHECK(c.inflight_deltas() == 0);
}

TEST_CASE("peer cursor: reject and a lost link rewind to the acknowledged cursor") {
  peer_cursor c;
  c.start_session(0);
  c.request_push(50);
  c.on_sent(10, 10);
  c.on_sent(20, 10);
  CHECK(c.on_ack(10) == peer_cursor::ack_result::advanced);
  c.on_sent(30, 10);
  c.reject();
  CHECK(c.sent() == 10);
  CHECK(c.inflight_bytes() == 0);
  CHECK(c.can_send());  // the push is still wanted: resend from 10 after the backoff
  c.on_sent(40, 10);
  c.end_session();
  CHECK_FALSE(c.in_session());
  CHECK_FALSE(c.can_send());
  CHECK(c.acked() == 10);
  CHECK(c.sent() == 10);
  // A new session starts from what the peer's hello says.
  c.start_session(35);
  CHECK(c.acked() == 35);
  CHECK(c.push_done());
}

TEST_CASE("backoff: capped, exponential, jittered, resettable") {
  backoff b(100, 2000, 42);
  std::int64_t previous_cap = 0;
  for (int i = 0; i < 20; ++i) {
    const std::int64_t d = b.next_ms();
    const std::int64_t cap = std::min<std::int64_t>(2000, 100LL << std::min(i, 20));
    CHECK(d >= cap / 2);
    CHECK(d <= cap);
    CHECK(cap >= previous_cap);
    previous_cap = cap;
  }
  b.reset();
  const std::int64_t first = b.next_ms();
  CHECK(first >= 50);
  CHECK(first <= 100);
  // Two daemons with different seeds do not redial in lockstep.
  backoff x(1000, 60000, 1), y(1000, 60000, 2);
  int same = 0;
  for (int i = 0; i < 10; ++i) same += x.next_ms() == y.next_ms();
  CHECK(same < 10);
}

TEST_CASE("buckets: digests sum to the store digest and a filter keeps differing buckets") {
  fake_time time;
  crdt::hybrid_clock clock_a(*crdt::node_names().intern("bucket-a"), time);
  crdt::hybrid_clock clock_b(*crdt::node_names().intern("bucket-b"), time);
  store::record_store a(clock_a), b(clock_b);
  std::vector<crdt::field_write> f{{"name", "\"x\""}};
  for (int i = 0; i < 500; ++i) {
    a.put("servers/s" + std::to_string(i), f);
  }
  a.changes_since(0, [&](std::uint64_t, std::string_view key, const store::stored_record& e) {
    b.merge(key, e.state, clock_a.self());
    return true;
  });
  CHECK(a.digest() == b.digest());
  const std::uint32_t n = choose_bucket_count(a.size());
  CHECK(n == 32);
  CHECK(choose_bucket_count(0) == 1);
  CHECK(choose_bucket_count(100'000'000) == max_buckets);

  auto da = bucket_digests(a, n);
  crdt::hash128 sum;
  for (const auto& d : da) sum += d;
  CHECK(sum == a.digest());
  CHECK(bucket_digests(b, n) == da);

  // Change three records on b only: at most three buckets differ.
  std::vector<crdt::field_write> g{{"name", "\"y\""}};
  b.put("servers/s1", g);
  b.put("servers/s2", g);
  b.put("servers/s300", g);
  const std::uint64_t cut = b.seq();
  bucket_filter filter(bucket_digests(b, n), da, cut);
  CHECK(filter.differing() >= 1);
  CHECK(filter.differing() <= 3);
  std::size_t kept = 0;
  b.changes_since(0, [&](std::uint64_t seq, std::string_view key, const store::stored_record& e) {
    kept += filter.keep(seq, key, e.hash);
    return true;
  });
  CHECK(kept >= 3);
  CHECK(kept < 500 / 4);  // only the differing buckets' records
  CHECK(filter.keep(cut, "servers/s1", b.find("servers/s1")->hash));
  // Anything that changed after the filter was made is always kept.
  CHECK(filter.keep(cut + 1, "servers/whatever", {}));
  CHECK(bucket_of("servers/s1", 1) == 0);

  // Level 2: a's key hashes for the differing buckets leave exactly the
  // three changed records.
  const keys_message theirs = key_entries(a, n, filter.differing_buckets());
  CHECK(theirs.complete);
  CHECK(theirs.entries.size() >= 3);
  CHECK(std::is_sorted(theirs.entries.begin(), theirs.entries.end()));
  filter.refine(theirs.entries);
  std::vector<std::string> sent;
  b.changes_since(0, [&](std::uint64_t seq, std::string_view key, const store::stored_record& e) {
    if (filter.keep(seq, key, e.hash)) sent.emplace_back(key);
    return true;
  });
  std::sort(sent.begin(), sent.end());
  CHECK(sent == std::vector<std::string>{"servers/s1", "servers/s2", "servers/s300"});
  // A record the peer lacks altogether is kept too.
  std::vector<crdt::field_write> h{{"name", "\"new\""}};
  b.put("servers/brand-new", h);
  const auto* fresh = b.find("servers/brand-new");
  const auto differing = filter.differing_buckets();
  if (std::find(differing.begin(), differing.end(), bucket_of("servers/brand-new", n)) != differing.end())
    CHECK(filter.keep(cut, "servers/brand-new", fresh->hash));
  else
    CHECK_FALSE(filter.keep(cut, "servers/brand-new", fresh->hash));
  // Too many to list: an incomplete answer, nothing in it.
  const keys_message capped = key_entries(a, n, filter.differing_buckets(), 1);
  CHECK_FALSE(capped.complete);
  CHECK(capped.entries.empty());
}
