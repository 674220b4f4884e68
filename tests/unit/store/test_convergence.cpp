// Convergence (DESIGN §2, §5): three nodes write concurrently, each with its
// own hybrid clock over a physical clock that stalls, jumps and steps back,
// and gossip some states to each other. Every state they produce is then
// delivered to every replica in a random order, with duplicates. All replicas
// must end with one state per key, equal digests, and that state must be the
// one the LWW specification says, computed directly from the operations.

#include <algorithm>
#include <deque>
#include <map>

#include <rapidcheck/catch.h>

#include "../crdt/generators.hpp"
#include "horao/crdt/digest.hpp"
#include "horao/store/record_store.hpp"

using namespace horao;
using crdt::hlc;

namespace {

struct fake_time final : crdt::time_source {
  std::int64_t now = 0;
  std::int64_t now_us() const override { return now; }
};

struct sim_node {
  sim_node(const std::string& name, std::int64_t start) : clock(test::node(name), time), store(clock) {
    time.now = start;
  }
  fake_time time;
  crdt::hybrid_clock clock;
  store::record_store store;
};

// One write as the specification sees it.
struct issued {
  enum kind_t { put, patch, remove } kind;
  hlc replace_at;  // put: everything older goes; remove: the delete stamp
  hlc at;          // put: the body's stamp; patch: the patch's stamp
  std::vector<crdt::field_write> fields;
};

struct delivery {
  std::string key;
  crdt::record state;
  crdt::node_id from;
};

const std::vector<std::string> keys{"server/a", "server/b", "vm/c"};

// The state the LWW map must hold for one key, from its operations alone:
// deleted = the newest delete or replace, created = the newest PUT body, and
// per field the newest write that is newer than deleted.
crdt::record specified_state(const std::vector<issued>& ops) {
  hlc created, deleted;
  for (const auto& op : ops) {
    if (op.kind == issued::put) created = std::max(created, op.at);
    if (op.kind != issued::patch) deleted = std::max(deleted, op.replace_at);
  }
  std::map<std::string, std::pair<hlc, std::string>> newest;
  for (const auto& op : ops) {
    if (op.kind == issued::remove) continue;
    for (const auto& w : op.fields) {
      auto [it, inserted] = newest.try_emplace(w.name, op.at, w.value);
      if (!inserted && it->second.first < op.at) it->second = {op.at, w.value};
    }
  }
  std::vector<crdt::field_entry> entries;
  for (const auto& [name, entry] : newest)
    if (deleted < entry.first) entries.push_back({entry.first, test::field(name), entry.second});
  return crdt::record(created, deleted, std::move(entries));
}

template <typename T>
void shuffle(std::vector<T>& items) {
  for (std::size_t i = items.size(); i > 1; --i)
    std::swap(items[i - 1], items[*test::uniform<std::size_t>(0, i)]);
}

// All deliveries, some twice, in a random order.
std::vector<delivery> with_duplicates_shuffled(const std::vector<delivery>& all) {
  auto out = all;
  const int extra = *rc::gen::inRange(0, static_cast<int>(all.size()) + 1);
  for (int i = 0; i < extra; ++i) out.push_back(all[*test::uniform<std::size_t>(0, all.size())]);
  shuffle(out);
  return out;
}

crdt::hash128 digest_of(const std::map<std::string, crdt::record>& states) {
  crdt::hash128 sum;
  for (const auto& [key, state] : states) sum += crdt::hash_record(key, state);
  return sum;
}

}  // namespace

TEST_CASE("replicas converge to the specified state whatever the delivery order") {
  rc::prop("three writers, random clocks, random delivery with duplicates", [] {
    std::deque<sim_node> nodes;
    for (int i = 0; i < 3; ++i)
      nodes.emplace_back(test::node_pool()[i], 1'000 + *test::uniform<std::int64_t>(-3, 4));

    std::vector<delivery> deliveries;
    std::map<std::string, std::vector<issued>> ops;
    const int steps = *rc::gen::inRange(1, 40);
    for (int step = 0; step < steps; ++step) {
      const std::size_t n = *test::uniform<std::size_t>(0, 3);
      auto& node = nodes[n];
      // The physical clock of this node stalls, moves on, or steps back.
      node.time.now += *rc::gen::element<std::int64_t>(0, 0, 1, 2, 7, -1, -4);
      const std::string key = *rc::gen::elementOf(keys);
      // Causality: a write is ordered after everything its node has seen of
      // the key, including states gossiped from nodes whose clocks run ahead.
      hlc seen{};
      if (const auto* before = node.store.find(key))
        seen = std::max(before->state.updated(), before->state.deleted());
      const int what = *test::uniform<int>(0, 10);
      if (what < 3) {
        const auto body = *test::gen_writes(false);
        const auto result = node.store.put(key, body);
        const auto& s = result.entry->state;
        RC_ASSERT(seen < s.deleted());
        RC_ASSERT(s.deleted() < s.created());
        ops[key].push_back({issued::put, s.deleted(), s.created(), body});
      } else if (what < 6) {
        const auto body = *test::gen_writes(true);
        if (!node.store.patch(key, body)) continue;  // not alive here: 404, nothing issued
        RC_ASSERT(seen < node.clock.last());
        ops[key].push_back({issued::patch, {}, node.clock.last(), body});
      } else if (what < 8) {
        if (!node.store.remove(key)) continue;
        RC_ASSERT(seen < node.store.find(key)->state.deleted());
        ops[key].push_back({issued::remove, node.store.find(key)->state.deleted(), {}, {}});
      } else {
        // Gossip: this node learns another's state of the key before writing on.
        const auto& other = nodes[(n + 1 + *test::uniform<std::size_t>(0, 2)) % 3];
        const auto* entry = other.store.find(key);
        if (!entry) continue;
        RC_ASSERT(node.store.merge(key, entry->state, other.clock.self()) != store::merge_outcome::rejected_clock);
      }
      deliveries.push_back({key, node.store.find(key)->state, node.clock.self()});
    }
    RC_PRE(!deliveries.empty());

    // Replica four: a store that only receives.
    fake_time fourth_time;
    fourth_time.now = *test::uniform<std::int64_t>(0, 2'000);
    crdt::hybrid_clock fourth_clock(test::node("n4"), fourth_time);
    store::record_store fourth(fourth_clock);
    for (const auto& d : with_duplicates_shuffled(deliveries))
      RC_ASSERT(fourth.merge(d.key, d.state, d.from) != store::merge_outcome::rejected_clock);
    // The writers receive everything too, each in its own order.
    for (auto& node : nodes)
      for (const auto& d : with_duplicates_shuffled(deliveries)) node.store.merge(d.key, d.state, d.from);
    // And the bare lattice, without the store.
    std::map<std::string, crdt::record> lattice;
    for (const auto& d : with_duplicates_shuffled(deliveries)) lattice[d.key].merge(d.state);

    RC_ASSERT(fourth.size() == lattice.size());
    for (const auto& [key, state] : lattice) {
      RC_ASSERT(fourth.find(key) != nullptr);
      RC_ASSERT(fourth.find(key)->state == state);
      for (const auto& node : nodes) {
        RC_ASSERT(node.store.find(key) != nullptr);
        RC_ASSERT(node.store.find(key)->state == state);
      }
      RC_ASSERT(state == specified_state(ops[key]));
    }
    const auto expected_digest = digest_of(lattice);
    RC_ASSERT(fourth.digest() == expected_digest);
    for (const auto& node : nodes) {
      RC_ASSERT(node.store.digest() == expected_digest);
      RC_ASSERT(node.store.size() == lattice.size());
      for (const char* kind : {"server", "vm"}) {
        RC_ASSERT(node.store.kind_digest(kind) == fourth.kind_digest(kind));
        RC_ASSERT(node.store.count_alive(kind) == fourth.count_alive(kind));
      }
    }
  });
}
