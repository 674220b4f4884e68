// The record store (DESIGN §3): local writes, the change log, per-kind
// listings, subscribers, the digest, merges, recovery and tombstone purges.

#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <stdexcept>

#include <rapidcheck/catch.h>

#include "../crdt/generators.hpp"
#include "horao/crdt/codec.hpp"
#include "horao/crdt/digest.hpp"
#include "horao/store/record_store.hpp"

using namespace horao;
using crdt::hlc;
using store::merge_outcome;

namespace {

constexpr std::int64_t second = 1'000'000;

// For helpers used both in plain test cases and inside properties: an
// exception fails either kind with its message.
#define INVARIANT(cond) \
  if (!(cond)) throw std::logic_error("invariant failed: " #cond)

struct fake_time final : crdt::time_source {
  std::int64_t now = 1'790'000'000'000'000;
  std::int64_t now_us() const override { return now; }
};

// A store with its own clock and physical time, as one daemon has.
struct fixture {
  explicit fixture(const char* node = "dc-a", std::int64_t max_skew_us = 0)
      : clock(test::node(node), time, max_skew_us), store(clock) {}
  fake_time time;
  crdt::hybrid_clock clock;
  store::record_store store;
};

std::vector<crdt::field_write> body(std::initializer_list<std::pair<const char*, const char*>> items) {
  std::vector<crdt::field_write> out;
  for (const auto& [k, v] : items) out.push_back({k, v});
  return out;
}

struct log_row {
  std::uint64_t seq;
  std::string key;
  friend bool operator==(const log_row&, const log_row&) = default;
};

std::vector<log_row> log_of(const store::record_store& s, std::uint64_t since = 0) {
  std::vector<log_row> rows;
  s.changes_since(since, [&](std::uint64_t seq, std::string_view key, const store::stored_record& e) {
    INVARIANT(e.seq == seq);
    rows.push_back({seq, std::string(key)});
    return true;
  });
  return rows;
}

std::vector<std::string> listing(const store::record_store& s, std::string_view kind, std::string_view after = "") {
  std::vector<std::string> ids;
  s.for_each_alive(kind, after, [&](std::string_view id, const store::stored_record& e) {
    INVARIANT(e.state.alive());
    ids.emplace_back(id);
    return true;
  });
  return ids;
}

// The digest recomputed from scratch over every record the store holds (the
// change log lists each exactly once), and the same per kind.
struct recomputed {
  crdt::hash128 all;
  std::map<std::string, crdt::hash128, std::less<>> per_kind;
  std::size_t records = 0;
};
recomputed recompute(const store::record_store& s) {
  recomputed r;
  s.changes_since(0, [&](std::uint64_t, std::string_view key, const store::stored_record& e) {
    const auto h = crdt::hash_record(key, e.state);
    INVARIANT(e.hash == h);
    r.all += h;
    r.per_kind[std::string(store::split_key(key).first)] += h;
    ++r.records;
    return true;
  });
  return r;
}

void require_consistent_digests(const store::record_store& s) {
  const auto r = recompute(s);
  INVARIANT(r.records == s.size());
  INVARIANT(s.digest() == r.all);
  for (const auto& [kind, h] : r.per_kind) INVARIANT(s.kind_digest(kind) == h);
}

crdt::record remote_state(const char* node, std::int64_t wall, const char* field, const char* value) {
  return crdt::record(hlc{wall, 0, test::node(node)}, hlc{},
                      {{hlc{wall, 0, test::node(node)}, test::field(field), value}});
}

}  // namespace

TEST_CASE("split_key") {
  CHECK(store::split_key("server/s-1") == std::pair<std::string_view, std::string_view>{"server", "s-1"});
  CHECK(store::split_key("vm/a/b") == std::pair<std::string_view, std::string_view>{"vm", "a/b"});
  CHECK(store::split_key("lonely") == std::pair<std::string_view, std::string_view>{"lonely", ""});
}

TEST_CASE("local writes: put and patch and remove") {
  fixture f;
  auto& s = f.store;
  const auto r1 = s.put("datacenter/dc1", body({{"name", "\"x\""}, {"number", "1"}}));
  CHECK(r1.created);
  CHECK(r1.entry->seq == 1);
  CHECK(r1.entry->origin == f.clock.self());
  CHECK(s.find_alive("datacenter/dc1") == r1.entry);
  const auto r2 = s.put("datacenter/dc1", body({{"name", "\"y\""}}));
  CHECK_FALSE(r2.created);  // replaced a live record
  CHECK(r2.entry->state.find("number") == nullptr);  // a PUT drops what its body does not have

  const auto* patched = s.patch("datacenter/dc1", body({{"location", "\"ams\""}, {"name", ""}}));
  REQUIRE(patched);
  CHECK(test::value_of(patched->state, "location") == "\"ams\"");
  CHECK(test::value_of(patched->state, "name").empty());
  CHECK(patched->seq == 3);

  CHECK(s.remove("datacenter/dc1"));
  CHECK(s.find_alive("datacenter/dc1") == nullptr);
  REQUIRE(s.find("datacenter/dc1") != nullptr);  // the tombstone stays
  CHECK(s.find("datacenter/dc1")->state.fields().empty());

  // Writes to what is not alive change nothing.
  const auto seq = s.seq();
  CHECK(s.patch("datacenter/dc1", body({{"name", "\"z\""}})) == nullptr);
  CHECK_FALSE(s.remove("datacenter/dc1"));
  CHECK(s.patch("datacenter/none", body({{"name", "\"z\""}})) == nullptr);
  CHECK_FALSE(s.remove("datacenter/none"));
  CHECK(s.seq() == seq);
  CHECK(s.find("datacenter/none") == nullptr);

  // A PUT on a tombstone brings the resource back, clean.
  const auto r3 = s.put("datacenter/dc1", body({{"number", "2"}}));
  CHECK(r3.created);
  CHECK(test::visible(r3.entry->state) == std::map<std::string, std::string>{{"number", "2"}});
}

TEST_CASE("two writes within one stalled microsecond are ordered") {
  fixture f;
  f.store.put("server/s1", body({{"status", "\"up\""}}));
  f.time.now -= 5;  // the physical clock even steps back
  f.store.patch("server/s1", body({{"status", "\"down\""}}));
  CHECK(test::value_of(f.store.find("server/s1")->state, "status") == "\"down\"");
}

TEST_CASE("change log: one entry per key at its newest sequence") {
  fixture f;
  auto& s = f.store;
  s.put("server/a", body({{"n", "1"}}));
  s.put("server/b", body({{"n", "1"}}));
  for (int i = 2; i <= 50; ++i) s.patch("server/a", body({{"n", std::to_string(i).c_str()}}));
  s.put("vm/c", body({{"n", "1"}}));
  CHECK(s.seq() == 52);
  CHECK(log_of(s) == std::vector<log_row>{{2, "server/b"}, {51, "server/a"}, {52, "vm/c"}});

  // Enough rewrites to make the log compact itself: still one entry per key.
  for (int i = 0; i < 5000; ++i) s.patch(i % 2 ? "server/a" : "server/b", body({{"n", "0"}}));
  CHECK(log_of(s) == std::vector<log_row>{{52, "vm/c"}, {5051, "server/b"}, {5052, "server/a"}});
}

TEST_CASE("changes_since is a range scan in sequence order") {
  rc::prop("changes_since(s) lists exactly the newest entries with seq > s, ascending", [] {
    fixture f;
    auto& s = f.store;
    std::map<std::string, std::uint64_t> newest;
    const int writes = *rc::gen::inRange(1, 60);
    for (int i = 0; i < writes; ++i) {
      const std::string key = "server/k" + std::to_string(*test::uniform<int>(0, 8));
      newest[key] = s.put(key, body({{"i", std::to_string(i).c_str()}})).entry->seq;
    }
    const std::uint64_t since = *test::uniform<std::uint64_t>(0, s.seq() + 2);
    std::vector<log_row> expected;
    for (const auto& [key, seq] : newest)
      if (seq > since) expected.push_back({seq, key});
    std::sort(expected.begin(), expected.end(), [](const log_row& a, const log_row& b) { return a.seq < b.seq; });
    RC_ASSERT(log_of(s, since) == expected);
  });
  SECTION("the visitor stops the scan") {
    fixture f;
    for (const char* k : {"vm/a", "vm/b", "vm/c"}) f.store.put(k, body({{"n", "1"}}));
    int visited = 0;
    f.store.changes_since(0, [&](std::uint64_t, std::string_view, const store::stored_record&) {
      return ++visited < 2;
    });
    CHECK(visited == 2);
  }
}

TEST_CASE("per-kind listing in id order with an after cursor") {
  fixture f;
  auto& s = f.store;
  for (const char* k : {"server/s3", "server/s1", "server/s20", "server/s2", "vm/s1", "servers/x", "serve/y"})
    s.put(k, body({{"n", "1"}}));
  CHECK(listing(s, "server") == std::vector<std::string>{"s1", "s2", "s20", "s3"});
  CHECK(listing(s, "server", "s1") == std::vector<std::string>{"s2", "s20", "s3"});
  CHECK(listing(s, "server", "s15") == std::vector<std::string>{"s2", "s20", "s3"});  // a cursor need not exist
  CHECK(listing(s, "server", "s3").empty());
  CHECK(listing(s, "vm") == std::vector<std::string>{"s1"});
  CHECK(listing(s, "nothing").empty());

  s.remove("server/s2");
  CHECK(listing(s, "server") == std::vector<std::string>{"s1", "s20", "s3"});
  s.put("server/s2", body({{"n", "2"}}));
  CHECK(listing(s, "server") == std::vector<std::string>{"s1", "s2", "s20", "s3"});

  std::vector<std::string> first_two;
  s.for_each_alive("server", "", [&](std::string_view id, const store::stored_record&) {
    first_two.emplace_back(id);
    return first_two.size() < 2;
  });
  CHECK(first_two == std::vector<std::string>{"s1", "s2"});
}

TEST_CASE("count_alive and alive_counts follow writes and merges") {
  fixture f;
  auto& s = f.store;
  s.put("server/a", body({{"n", "1"}}));
  s.put("server/b", body({{"n", "1"}}));
  s.put("vm/a", body({{"n", "1"}}));
  CHECK(s.count_alive("server") == 2);
  CHECK(s.count_alive("vm") == 1);
  CHECK(s.count_alive("disk") == 0);
  s.remove("server/a");
  CHECK(s.count_alive("server") == 1);
  // A remote delete of vm/a, newer than our write.
  auto dead = s.find("vm/a")->state;
  dead.remove(f.clock.tick());
  CHECK(s.merge("vm/a", dead, test::node("dc-b")) == merge_outcome::changed);
  CHECK(s.count_alive("vm") == 0);
  // A remote PUT of a new key.
  CHECK(s.merge("disk/d1", remote_state("dc-b", f.time.now, "size", "1"), test::node("dc-b")) ==
        merge_outcome::changed);
  CHECK(s.alive_counts() ==
        std::vector<std::pair<std::string, std::size_t>>{{"disk", 1}, {"server", 1}, {"vm", 0}});
}

TEST_CASE("subscribers are notified after each change") {
  fixture f;
  auto& s = f.store;
  struct seen {
    std::string key;
    std::uint64_t seq;
    bool was_alive;
    bool alive;
  };
  std::vector<seen> calls;
  s.subscribe([&](const store::change& c) {
    // The change is applied when the subscriber runs.
    REQUIRE(s.find(c.key) == &c.entry);
    REQUIRE(s.seq() == c.entry.seq);
    REQUIRE(s.digest() == recompute(s).all);
    calls.push_back({std::string(c.key), c.entry.seq, c.was_alive, c.entry.state.alive()});
  });
  s.put("server/a", body({{"n", "1"}}));
  s.put("server/a", body({{"n", "2"}}));
  s.patch("server/a", body({{"n", "3"}}));
  s.remove("server/a");
  s.patch("server/a", body({{"n", "4"}}));  // not alive: no change, no call
  const auto remote = remote_state("dc-b", f.time.now + 10, "n", "5");
  CHECK(s.merge("server/r", remote, test::node("dc-b")) == merge_outcome::changed);
  CHECK(s.merge("server/r", remote, test::node("dc-b")) == merge_outcome::unchanged);  // no call
  REQUIRE(calls.size() == 5);
  const std::vector<std::tuple<std::string, std::uint64_t, bool, bool>> expected{
      {"server/a", 1, false, true}, {"server/a", 2, true, true}, {"server/a", 3, true, true},
      {"server/a", 4, true, false}, {"server/r", 5, false, true}};
  for (std::size_t i = 0; i < calls.size(); ++i) {
    INFO(i);
    CHECK(std::tuple(calls[i].key, calls[i].seq, calls[i].was_alive, calls[i].alive) == expected[i]);
  }
  CHECK(s.find("server/r")->origin == test::node("dc-b"));
}

TEST_CASE("subscribers may unsubscribe and subscribe while being notified") {
  fixture f;
  auto& s = f.store;
  std::vector<std::string> calls;
  store::record_store::subscription self = 0, other = 0;
  // Unsubscribes itself on its first call, then still uses its own captured
  // state: the callable must outlive its own unsubscription.
  const std::string label = "self-removing subscriber with a long label, not inline";
  self = s.subscribe([&, label](const store::change&) {
    s.unsubscribe(self);
    calls.push_back(label);
  });
  s.subscribe([&](const store::change&) {
    calls.push_back("stays");
    if (other != 0) {
      s.unsubscribe(other);
      other = 0;
    }
  });
  other = s.subscribe([&](const store::change&) { calls.push_back("other"); });
  s.put("server/a", body({{"n", "1"}}));
  CHECK(calls == std::vector<std::string>{label, "stays"});  // "other" was unsubscribed before its turn

  calls.clear();
  s.put("server/a", body({{"n", "2"}}));
  CHECK(calls == std::vector<std::string>{"stays"});

  // Subscribing from inside a notification starts with the next change.
  calls.clear();
  bool added = false;
  const auto adder = s.subscribe([&](const store::change&) {
    if (!added) {
      added = true;
      s.subscribe([&](const store::change&) { calls.push_back("late"); });
    }
  });
  s.put("server/a", body({{"n", "3"}}));
  CHECK(calls == std::vector<std::string>{"stays"});
  calls.clear();
  s.unsubscribe(adder);
  s.put("server/a", body({{"n", "4"}}));
  CHECK(calls == std::vector<std::string>{"stays", "late"});
}

TEST_CASE("merge outcomes") {
  fixture f("dc-a", 5 * second);
  auto& s = f.store;
  const auto b = test::node("dc-b");
  int notified = 0;
  s.subscribe([&](const store::change&) { ++notified; });

  const auto v1 = remote_state("dc-b", f.time.now - second, "n", "1");
  CHECK(s.merge("server/x", v1, b) == merge_outcome::changed);
  CHECK(s.seq() == 1);
  CHECK(s.merge("server/x", v1, b) == merge_outcome::unchanged);  // a duplicate delivery
  CHECK(s.seq() == 1);
  const auto older = remote_state("dc-b", f.time.now - 2 * second, "n", "0");
  CHECK(s.merge("server/x", older, b) == merge_outcome::unchanged);  // dominated
  CHECK(test::value_of(s.find("server/x")->state, "n") == "1");
  const auto v2 = remote_state("dc-b", f.time.now, "n", "2");
  CHECK(s.merge("server/x", v2, b) == merge_outcome::changed);
  CHECK(s.seq() == 2);
  CHECK(notified == 2);

  // Beyond CLOCK_OFFSET in any stamp: refused whole, nothing changes.
  const auto digest = s.digest();
  const hlc ahead{f.time.now + 5 * second + 1, 0, b};
  const std::vector<crdt::record> too_far{
      crdt::record(ahead, hlc{}, {}),
      crdt::record(hlc{1, 0, b}, ahead, {}),
      crdt::record(hlc{1, 0, b}, hlc{}, {{ahead, test::field("n"), "9"}}),
  };
  for (const auto& r : too_far) {
    CHECK(s.merge("server/x", r, b) == merge_outcome::rejected_clock);
    CHECK(s.merge("server/new", r, b) == merge_outcome::rejected_clock);
  }
  CHECK(s.find("server/new") == nullptr);
  CHECK(s.digest() == digest);
  CHECK(s.seq() == 2);
  CHECK(notified == 2);
  CHECK(f.clock.tick() < ahead);  // and the clock did not move

  // Within the offset: accepted, and the clock moves past it, so that our
  // next write wins over the state we just merged.
  const auto near = remote_state("dc-b", f.time.now + 5 * second, "n", "3");
  CHECK(s.merge("server/x", near, b) == merge_outcome::changed);
  s.patch("server/x", body({{"n", "4"}}));
  CHECK(test::value_of(s.find("server/x")->state, "n") == "4");

  // The bottom state is no state: merging it creates nothing.
  CHECK(s.merge("server/empty", crdt::record{}, b) == merge_outcome::unchanged);
  CHECK(s.find("server/empty") == nullptr);
}

TEST_CASE("the digest is the sum of hash_record over all records after any operations") {
  rc::prop("local writes, merges and purges keep the digest and the kind digests exact", [] {
    fixture f;
    auto& s = f.store;
    const std::vector<std::string> keys{"server/a", "server/b", "vm/a", "vm/b", "disk/a"};
    const int steps = *rc::gen::inRange(1, 50);
    for (int i = 0; i < steps; ++i) {
      f.time.now += *test::uniform<std::int64_t>(-2, 5);
      const auto& key = *rc::gen::elementOf(keys);
      switch (*test::uniform<int>(0, 5)) {
        case 0:
          s.put(key, *test::gen_writes(false));
          break;
        case 1:
          s.patch(key, *test::gen_writes(true));
          break;
        case 2:
          s.remove(key);
          break;
        case 3:
          s.merge(key, *test::gen_record(), test::node("n2"));
          break;
        default:
          s.purge_tombstones(f.time.now + *test::uniform<std::int64_t>(-3, 3), *test::uniform<std::size_t>(0, 3));
      }
      const auto r = recompute(s);
      RC_ASSERT(r.records == s.size());
      RC_ASSERT(s.digest() == r.all);
      for (const auto& kind : {"server", "vm", "disk"}) {
        const auto it = r.per_kind.find(kind);
        RC_ASSERT(s.kind_digest(kind) == (it == r.per_kind.end() ? crdt::hash128{} : it->second));
      }
    }
  });
}

TEST_CASE("restore and restore_sequence rebuild the same store") {
  rc::prop("from a dump in any order, with duplicates, the digest, log, listings and clock come back", [] {
    fixture a;
    const std::vector<std::string> keys{"server/a", "server/b", "server/c", "vm/a", "vm/b"};
    const int steps = *rc::gen::inRange(1, 40);
    for (int i = 0; i < steps; ++i) {
      a.time.now += *test::uniform<std::int64_t>(0, 3);
      const auto& key = *rc::gen::elementOf(keys);
      switch (*test::uniform<int>(0, 4)) {
        case 0: a.store.put(key, *test::gen_writes(false)); break;
        case 1: a.store.patch(key, *test::gen_writes(true)); break;
        case 2: a.store.remove(key); break;
        default: a.store.merge(key, *test::gen_record(), test::node("n3"));
      }
    }
    // What persistence would have written: (key, encoded state, seq), plus an
    // older copy of some records (a duplicate left behind in the source).
    struct saved {
      std::string key;
      nlohmann::json state;
      std::uint64_t seq;
    };
    std::vector<saved> dump;
    a.store.changes_since(0, [&](std::uint64_t seq, std::string_view key, const store::stored_record& e) {
      dump.push_back({std::string(key), crdt::encode_record(e.state), seq});
      return true;
    });
    RC_PRE(!dump.empty());
    const auto dup = dump[*test::uniform<std::size_t>(0, dump.size())];
    dump.push_back({dup.key, crdt::encode_record(crdt::record{}), dup.seq > 1 ? dup.seq - 1 : dup.seq});
    for (std::size_t i = dump.size(); i > 1; --i) std::swap(dump[i - 1], dump[*test::uniform<std::size_t>(0, i)]);

    fixture b;
    b.time.now = a.time.now - 60 * second;  // restarted with a clock that stepped back
    for (const auto& d : dump) b.store.restore(d.key, *crdt::decode_record(d.state), d.seq);
    b.store.restore_sequence(a.store.seq());

    RC_ASSERT(b.store.digest() == a.store.digest());
    RC_ASSERT(b.store.size() == a.store.size());
    RC_ASSERT(b.store.seq() == a.store.seq());
    RC_ASSERT(log_of(b.store) == log_of(a.store));
    for (const auto& kind : {"server", "vm"}) {
      RC_ASSERT(b.store.kind_digest(kind) == a.store.kind_digest(kind));
      RC_ASSERT(listing(b.store, kind) == listing(a.store, kind));
    }
    for (const auto& key : keys) {
      const auto* x = a.store.find(key);
      const auto* y = b.store.find(key);
      RC_ASSERT((x == nullptr) == (y == nullptr));
      if (x) RC_ASSERT(x->state == y->state);
    }
    // The clock is past everything restored: a new write wins and gets the next seq.
    const auto& key = dump.front().key;
    const bool alive = b.store.find(key)->state.alive();
    if (alive) {
      const auto* e = b.store.patch(key, body({{"fresh", "1"}}));
      RC_ASSERT(e->seq == a.store.seq() + 1);
      RC_ASSERT(e->state.find("fresh") != nullptr);
    } else {
      const auto r = b.store.put(key, body({{"fresh", "1"}}));
      RC_ASSERT(r.entry->seq == a.store.seq() + 1);
      RC_ASSERT(r.entry->state.alive());
    }
    require_consistent_digests(b.store);
  });
  SECTION("restore_sequence keeps a sequence higher than any record's") {
    fixture f;
    f.store.restore("server/a", remote_state("dc-b", 100, "n", "1"), 7);
    f.store.restore_sequence(42);  // records with seq 8..42 were purged tombstones
    CHECK(f.store.seq() == 42);
    CHECK(f.store.put("server/b", body({{"n", "1"}})).entry->seq == 43);
  }
}

TEST_CASE("purge_tombstones") {
  fixture f;
  auto& s = f.store;
  // A key rewritten many times leaves stale log entries behind it.
  s.put("vm/old", body({{"n", "1"}}));
  for (int i = 0; i < 10; ++i) s.patch("vm/old", body({{"n", "2"}}));
  s.put("vm/keep", body({{"n", "1"}}));
  s.put("vm/recent", body({{"n", "1"}}));
  s.put("server/alive", body({{"n", "1"}}));
  s.remove("vm/old");
  const auto old_seq = s.find("vm/old")->seq;
  f.time.now += 10 * second;
  s.remove("vm/keep");
  const auto keep_seq = s.find("vm/keep")->seq;
  f.time.now += 10 * second;
  s.remove("vm/recent");
  const auto seq_before = s.seq();
  CHECK(s.oldest_replayable() == 0);

  // Only tombstones deleted before the cutoff, at most `max` of them.
  CHECK(s.purge_tombstones(f.time.now - 15 * second, 10) == 1);
  CHECK(s.find("vm/old") == nullptr);
  CHECK(s.find("vm/keep") != nullptr);
  CHECK(s.oldest_replayable() == old_seq);
  CHECK(s.seq() == seq_before);
  require_consistent_digests(s);
  for (const auto& row : log_of(s)) CHECK(row.key != "vm/old");

  CHECK(s.purge_tombstones(f.time.now + 1, 1) == 1);  // the limit
  CHECK(s.purge_tombstones(f.time.now + 1, 10) == 1);
  CHECK(s.find("vm/keep") == nullptr);
  CHECK(s.find("vm/recent") == nullptr);
  CHECK(s.oldest_replayable() == seq_before);
  CHECK(s.oldest_replayable() > keep_seq);
  REQUIRE(s.find_alive("server/alive") != nullptr);  // live records are never purged
  CHECK(s.size() == 1);
  CHECK(log_of(s) == std::vector<log_row>{{s.find("server/alive")->seq, "server/alive"}});
  require_consistent_digests(s);
  CHECK(s.kind_digest("vm") == crdt::hash128{});

  // The sequence never goes backwards, and a purged key can be written again.
  CHECK(s.put("vm/old", body({{"n", "3"}})).entry->seq == seq_before + 1);
  CHECK(listing(s, "vm") == std::vector<std::string>{"old"});
  require_consistent_digests(s);
}

TEST_CASE("purge_tombstones_step does bounded work and names what it purges") {
  fixture f;
  auto& s = f.store;
  for (int i = 0; i < 40; ++i) s.put("vm/v" + std::to_string(i), body({{"n", "1"}}));
  // Every other one dies; some of the live ones are rewritten, which leaves
  // stale entries in the log.
  for (int i = 0; i < 40; i += 2) REQUIRE(s.remove("vm/v" + std::to_string(i)));
  for (int i = 1; i < 40; i += 4) s.patch("vm/v" + std::to_string(i), body({{"n", "2"}}));
  f.time.now += 10 * second;
  s.remove("vm/v1");  // too recent for the cutoff below
  const auto recent_seq = s.find("vm/v1")->seq;
  CHECK(s.tombstones() == 21);
  listing(s, "vm");  // some dead records sit in the sorted index, others never got there

  std::vector<std::string> purged;
  std::uint64_t after = 0;
  std::size_t steps = 0;
  for (;;) {
    const auto p = s.purge_tombstones_step(after, f.time.now - 5 * second, 7,
                                           [&](std::string_view key) {
                                             REQUIRE(s.find(key) != nullptr);  // still there when named
                                             purged.emplace_back(key);
                                           });
    CHECK(p.scanned <= 7);
    CHECK(p.purged <= p.scanned);
    ++steps;
    if (p.finished) break;
    CHECK(p.next > after);
    after = p.next;
  }
  CHECK(steps > 1);
  std::sort(purged.begin(), purged.end());
  std::vector<std::string> expected;
  for (int i = 0; i < 40; i += 2) expected.push_back("vm/v" + std::to_string(i));
  std::sort(expected.begin(), expected.end());
  CHECK(purged == expected);
  CHECK(s.tombstones() == 1);
  CHECK(s.find("vm/v1") != nullptr);
  CHECK(s.find("vm/v0") == nullptr);
  CHECK(s.oldest_replayable() < recent_seq);
  require_consistent_digests(s);
  CHECK(listing(s, "vm").size() == 19);

  // A second pass finds nothing more until the cutoff passes the last one.
  CHECK(s.purge_tombstones_step(0, f.time.now - 5 * second, 1000).purged == 0);
  CHECK(s.purge_tombstones_step(0, f.time.now + 1, 1000).purged == 1);
  CHECK(s.tombstones() == 0);
  CHECK(s.size() == 19);
  // Purged keys come back clean when written again.
  CHECK(s.put("vm/v0", body({{"n", "3"}})).created);
  require_consistent_digests(s);
}

TEST_CASE("purged records that were never listed are freed safely") {
  // Many records come alive and die without a listing in between (they sit
  // in the kind's pending list), and keys are rewritten so the log holds
  // stale entries pointing at them: purging and compacting must not touch
  // freed memory (run under ASan in the sanitizer build).
  fixture f;
  auto& s = f.store;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 1500; ++i) {
      const std::string key = "vm/r" + std::to_string(i);
      s.put(key, body({{"n", "1"}}));
      s.patch(key, body({{"n", "2"}}));
      s.remove(key);
    }
    f.time.now += second;
    std::uint64_t after = 0;
    for (;;) {
      const auto p = s.purge_tombstones_step(after, f.time.now, 256);
      if (p.finished) break;
      after = p.next;
    }
    CHECK(s.size() == 0);
    CHECK(log_of(s).empty());
  }
  CHECK(listing(s, "vm").empty());
  require_consistent_digests(s);
}

TEST_CASE("the store keeps its invariants over random operations") {
  rc::prop("log, listings, counts and digests agree with the records", [] {
    fixture f;
    auto& s = f.store;
    std::vector<std::string> keys;
    for (int i = 0; i < 12; ++i) keys.push_back((i % 3 ? "server/s" : "vm/v") + std::to_string(i));
    const int steps = *rc::gen::inRange(1, 120);
    std::uint64_t gc_after = 0;  // a bounded GC pass in progress, as the daemon runs it
    for (int i = 0; i < steps; ++i) {
      f.time.now += *test::uniform<std::int64_t>(0, 2);
      const auto& key = *rc::gen::elementOf(keys);
      switch (*test::uniform<int>(0, 8)) {
        case 0: s.put(key, *test::gen_writes(false)); break;
        case 1: s.patch(key, *test::gen_writes(true)); break;
        case 2: s.remove(key); break;
        case 3: s.merge(key, *test::gen_record(), test::node("n2")); break;
        case 4: s.purge_tombstones(f.time.now, 2); break;
        case 7: {
          const auto p = s.purge_tombstones_step(gc_after, f.time.now, *test::uniform<std::size_t>(1, 4),
                                                 [&](std::string_view k) { RC_ASSERT(!s.find(k)->state.alive()); });
          gc_after = p.finished ? 0 : p.next;
          break;
        }
        case 5: listing(s, "server"); break;  // sorts pending records into the index
        default: {
          auto r = s.find(key) ? s.find(key)->state : crdt::record{};
          r.remove(crdt::hlc{f.time.now, 0, test::node("n3")});
          s.merge(key, r, test::node("n3"));
        }
      }
    }
    const auto rows = log_of(s);
    RC_ASSERT(rows.size() == s.size());
    std::size_t dead = 0;
    for (const auto& row : rows) dead += s.find(row.key)->state.alive() ? 0 : 1;
    RC_ASSERT(s.tombstones() == dead);
    for (std::size_t i = 1; i < rows.size(); ++i) RC_ASSERT(rows[i - 1].seq < rows[i].seq);
    for (const char* kind : {"server", "vm"}) {
      std::vector<std::string> expected;
      for (const auto& row : rows) {
        const auto [k, id] = store::split_key(row.key);
        if (k == kind && s.find(row.key)->state.alive()) expected.emplace_back(id);
      }
      std::sort(expected.begin(), expected.end());
      RC_ASSERT(listing(s, kind) == expected);
      RC_ASSERT(s.count_alive(kind) == expected.size());
    }
    require_consistent_digests(s);
  });
}

TEST_CASE("listings stay in id order through many creates and deletes") {
  // Enough records per kind for the ordered index to split and fold its
  // chunks, to take pending records one by one and in bulk, and to compact
  // away dead ones; ids of many lengths, some sharing more than their first
  // 16 bytes, some prefixes of others.
  rc::prop("listing and cursors agree with a sorted set of the live ids", [] {
    fixture f;
    auto& s = f.store;
    std::set<std::string> alive;
    auto check = [&] {
      const std::vector<std::string> expected(alive.begin(), alive.end());
      RC_ASSERT(listing(s, "server") == expected);
      RC_ASSERT(s.count_alive("server") == expected.size());
      for (int k = 0; k < 3 && !expected.empty(); ++k) {
        const auto& cursor = expected[*test::uniform<std::size_t>(0, expected.size())];
        RC_ASSERT(listing(s, "server", cursor) == std::vector<std::string>(alive.upper_bound(cursor), alive.end()));
        // A cursor that names no record: the listing goes on from where it would be.
        const std::string between = cursor + "!";
        RC_ASSERT(listing(s, "server", between) == std::vector<std::string>(alive.upper_bound(between), alive.end()));
      }
    };
    const int scale = *rc::gen::inRange(1, 100);
    const int id_space = 40 * scale;
    // Phases: mostly creates, then mostly deletes of live ids, then a mix,
    // with listings (flushes) at random points.
    for (int phase = 0; phase < 3; ++phase) {
      const int steps = 30 * scale;
      for (int i = 0; i < steps; ++i) {
        const int n = *test::uniform<int>(0, id_space);
        std::string id;
        switch (n % 4) {
          case 0: id = "s" + std::to_string(n); break;
          case 1: id = "rack-row-01-position-" + std::to_string(n); break;
          case 2: id = "rack-row-01-position-" + std::to_string(n / 10); break;
          default: id = std::string(static_cast<std::size_t>(n % 23) + 1, 'z') + std::to_string(n % 7);
        }
        const int dice = *test::uniform<int>(0, 8);
        if (phase == 1 && !alive.empty() && dice != 0) {
          const auto victim = std::next(alive.begin(), *test::uniform<std::ptrdiff_t>(0, alive.size()));
          RC_ASSERT(s.remove("server/" + *victim));
          alive.erase(victim);
        } else if (phase != 1 && dice < 2) {
          if (s.remove("server/" + id)) alive.erase(id);
        } else {
          s.put("server/" + id, body({{"n", "1"}}));
          alive.insert(id);
        }
        if (*test::uniform<int>(0, steps) < 2) check();
      }
      check();
    }
    // Tombstones that sit in the sorted index are purged with it.
    s.purge_tombstones(f.time.now + 1, std::numeric_limits<std::size_t>::max());
    check();
    require_consistent_digests(s);
  });
}

TEST_CASE("key_of is the store's own key text at a stable address until the purge") {
  fixture f;
  auto& s = f.store;
  const char* notified = nullptr;
  const auto sub = s.subscribe([&](const store::change& c) {
    if (c.key == "server/s1") notified = c.key.data();
  });
  s.put("server/s1", body({{"n", "1"}}));
  const store::stored_record* entry = s.find("server/s1");
  REQUIRE(entry != nullptr);
  const std::string_view key = store::record_store::key_of(*entry);
  CHECK(key == "server/s1");
  CHECK(key.data() == notified);
  const char* listed = nullptr;
  s.for_each_alive("server", {}, [&](std::string_view id, const store::stored_record& e) {
    CHECK(store::record_store::key_of(e).substr(7) == id);
    if (id == "s1") listed = id.data();
    return true;
  });
  CHECK(listed == key.data() + 7);

  // Growth of the key table, new kinds, rewrites, a delete and a revival
  // move nothing: the same characters at the same address.
  for (int i = 0; i < 5000; ++i) s.put("disk/d" + std::to_string(i), body({{"n", "1"}}));
  s.put("server/s1", body({{"n", "2"}}));
  s.remove("server/s1");
  s.put("server/s1", body({{"n", "3"}}));
  REQUIRE(s.find("server/s1") == entry);
  CHECK(store::record_store::key_of(*s.find("server/s1")).data() == key.data());
  CHECK(notified == key.data());
  CHECK(key == "server/s1");

  // Only a purge of the dead record ends it; a new record gets new text.
  s.remove("server/s1");
  f.time.now += 1'000'000;
  CHECK(s.purge_tombstones(f.time.now, 10) == 1);
  CHECK(s.find("server/s1") == nullptr);
  s.put("server/s1", body({{"n", "4"}}));
  CHECK(store::record_store::key_of(*s.find("server/s1")) == "server/s1");
  s.unsubscribe(sub);
}

TEST_CASE("the store finds every record while its key table grows in steps, through removals and purges") {
  // 60,000 keys: the key table grows through 16 -> 131,072 slots, and each
  // growth drains over the following writes (store/draining_slots.hpp), so
  // lookups, writes and purges land in both the old and the new slots.
  fixture f;
  auto& s = f.store;
  std::set<int> alive;
  std::set<int> held;  // alive, or a tombstone not purged yet
  std::mt19937 random(20261204);
  const auto key = [](int i) { return "vm/k" + std::to_string(i); };
  for (int i = 0; i < 60'000; ++i) {
    s.put(key(i), body({{"n", "1"}}));
    alive.insert(i);
    held.insert(i);
    if (i % 3 == 2) {  // one in three removed soon after
      const int gone = i - static_cast<int>(random() % 3);
      if (alive.erase(gone) == 1) s.remove(key(gone));
    }
    if (i % 997 == 0) {  // the tombstones so far are purged: erases from the table
      f.time.now += second;
      s.purge_tombstones(f.time.now, 1'000'000);
      held = alive;
    }
    const int probe = static_cast<int>(random() % static_cast<unsigned>(i + 1));
    REQUIRE((s.find_alive(key(probe)) != nullptr) == alive.contains(probe));
    REQUIRE((s.find(key(probe)) != nullptr) == held.contains(probe));
    REQUIRE(s.find(key(i + 1)) == nullptr);
  }
  CHECK(s.size() == held.size());
  for (int i = 0; i < 60'000; ++i) REQUIRE((s.find_alive(key(i)) != nullptr) == alive.contains(i));
  require_consistent_digests(s);
}
