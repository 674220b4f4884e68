// Property: after any sequence of hardware, network and maintenance writes
// and deletes, in any order (children before parents, re-parenting, status
// flips, disk moves, hsn flips, parent deletions), the incrementally kept
// capacity equals (1) a capacity_index rebuilt from the store and (2) a
// brute-force computation straight from the records.
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "horao/crdt/hlc.hpp"
#include "horao/domain/hardware.hpp"
#include "test_scheduler_fixture.hpp"

using namespace horao;
using namespace horao::test;
using domain::dimension;
using domain::pool;

namespace {

struct op {
  int kind;    // 0 dc, 1 cabinet, 2 chassis, 3 blade, 4 server, 5 node, 6 disk, 7 network, 8 maintenance
  int id;      // 0..2
  int parent;  // 0..2
  int size;
  bool up;
  bool remove;
  bool flag;  // disk: object; network: hsn; machine: on network 0
  int from_h;
};

const char* kinds[] = {"datacenter", "cabinet", "chassis", "blade",      "server",
                       "node",       "disk",    "network", "maintenance"};

std::string key_of(int kind, int id) {
  return std::string(kinds[kind]) + "/" + kinds[kind][0] + std::to_string(id);
}
std::string id_of(int kind, int id) {
  return std::string(1, kinds[kind][0]) + std::to_string(id);
}

json body_of(const op& o) {
  const std::string status = o.up ? "up" : "down";
  switch (o.kind) {
    case 0:
      return datacenter();
    case 1:
      return cabinet(id_of(0, o.parent));
    case 2:
      return chassis(id_of(1, o.parent));
    case 3:
      return blade(id_of(2, o.parent), status);
    case 4:
      return server(id_of(1, o.parent), o.size, o.size * 2, o.size % 3,
                    o.flag ? std::vector<std::string>{"n0"} : std::vector<std::string>{}, status);
    case 5:
      return node_in(id_of(3, o.parent), o.size, o.size * 4, o.size % 2,
                     o.flag ? std::vector<std::string>{"n0"} : std::vector<std::string>{}, status);
    case 6:
      return disk(o.parent % 2 ? key_of(4, o.parent) : key_of(5, o.parent), o.size * 0.25,
                  o.flag ? "object" : "block", status);
    case 7:
      return network(id_of(0, o.parent), o.parent == 2 ? "control" : "data", o.flag);
    default: {
      // Targets: one of several levels, by parent and size.
      const int level = o.size % 5;
      const int kind = level == 0 ? 0 : level == 1 ? 1 : level == 2 ? 4 : level == 3 ? 5 : 6;
      std::vector<std::string> targets{key_of(kind, o.parent)};
      if (o.flag) targets.push_back(key_of(4, (o.parent + 1) % 3));
      return maintenance(o.from_h, o.from_h + 1 + o.size % 4, targets);
    }
  }
}

// ---- the oracle: straight from the store, no index ----

const crdt::record* live(replica& d, const std::string& key) {
  const auto* e = d.store.find_alive(key);
  return e ? &e->state : nullptr;
}

std::optional<std::string> field_text(const crdt::record& r, const char* name) {
  json v = domain::read_field(r, name);
  if (!v.is_string()) return std::nullopt;
  return v.get<std::string>();
}

bool up(const crdt::record& r) {
  return field_text(r, "status").value_or("up") != "down";
}

// The chain of keys from `key` up to its datacenter, or nullopt when not placed.
std::optional<std::vector<std::string>> chain(replica& d, std::string key) {
  std::vector<std::string> keys;
  while (true) {
    const crdt::record* r = live(d, key);
    if (!r) return std::nullopt;
    const auto kind = store::split_key(key).first;
    if ((kind == "blade" || kind == "server" || kind == "node" || kind == "disk") && !up(*r))
      return std::nullopt;
    keys.push_back(key);
    if (kind == "datacenter") return keys;
    auto named = [&](const char* field, const char* parent_kind) -> std::optional<std::string> {
      auto id = field_text(*r, field);
      if (!id) return std::nullopt;
      return std::string(parent_kind) + "/" + *id;
    };
    std::optional<std::string> parent;
    if (kind == "cabinet") parent = named("datacenter", "datacenter");
    if (kind == "chassis" || kind == "server") parent = named("cabinet", "cabinet");
    if (kind == "blade") parent = named("chassis", "chassis");
    if (kind == "node") parent = named("blade", "blade");
    if (kind == "disk") parent = field_text(*r, "machine");
    if (!parent) return std::nullopt;
    key = *parent;
  }
}

bool on_hsn(replica& d, const crdt::record& machine) {
  json nets = domain::read_field(machine, "networks");
  if (!nets.is_array()) return false;
  for (const auto& n : nets) {
    const crdt::record* r = live(d, "network/" + n.get<std::string>());
    if (r && domain::read_hsn_data_network(*r)) return true;
  }
  return false;
}

// Capacity by brute force; `at` removes what active maintenances target.
domain::pools oracle(replica& d, std::string_view dc, std::optional<std::int64_t> at) {
  std::set<std::string> under;
  if (at) {
    d.store.for_each_alive("maintenance", {}, [&](std::string_view, const store::stored_record& e) {
      auto w = domain::read_maintenance(e.state);
      if (w && w->start <= *at && *at < w->end) under.insert(w->targets.begin(), w->targets.end());
      return true;
    });
  }
  domain::pools sum;
  for (const char* kind : {"server", "node", "disk"}) {
    d.store.for_each_alive(kind, {}, [&](std::string_view id, const store::stored_record& e) {
      const std::string key = std::string(kind) + "/" + std::string(id);
      const auto keys = chain(d, key);
      if (!keys) return true;
      if (!dc.empty() && keys->back() != "datacenter/" + std::string(dc)) return true;
      for (const auto& k : *keys)
        if (under.contains(k)) return true;
      const auto own = domain::read_hardware(kind, e.state).own;
      const crdt::record* machine = std::string_view(kind) == "disk" ? live(d, (*keys)[1]) : &e.state;
      sum.total += own;
      if (on_hsn(d, *machine)) sum.hsn += own;
      return true;
    });
  }
  return sum;
}

domain::pools index_pools(const domain::capacity_index& c, std::string_view dc,
                          std::optional<std::int64_t> at) {
  return {c.capacity({dc, false, at}), c.capacity({dc, true, at})};
}

}  // namespace

namespace rc {
template <>
struct Arbitrary<op> {
  static Gen<op> arbitrary() {
    return gen::build<op>(gen::set(&op::kind, gen::inRange(0, 9)), gen::set(&op::id, gen::inRange(0, 3)),
                          gen::set(&op::parent, gen::inRange(0, 3)), gen::set(&op::size, gen::inRange(1, 40)),
                          gen::set(&op::up, gen::weightedElement<bool>({{4, true}, {1, false}})),
                          gen::set(&op::remove, gen::weightedElement<bool>({{1, true}, {4, false}})),
                          gen::set(&op::flag, gen::arbitrary<bool>()),
                          gen::set(&op::from_h, gen::inRange(0, 6)));
  }
};
}  // namespace rc

TEST_CASE("capacity index: incremental equals rebuild equals brute force under random operations") {
  rc::prop("incremental == rebuild == oracle", [](const std::vector<op>& ops) {
    replica d;
    for (const auto& o : ops) {
      const std::string key = key_of(o.kind, o.id);
      if (o.remove)
        d.remove(key);
      else
        d.put(key, body_of(o));
      // Now and then the tombstones go: the tree holds the store's key text.
      if (o.remove && o.flag && o.from_h == 0) d.store.purge_tombstones(d.time.now + 1, 1000);
    }
    domain::capacity_index rebuilt(d.store);
    for (std::string_view dc : {"", "d0", "d1", "d2"}) {
      for (std::optional<std::int64_t> at : {std::optional<std::int64_t>{}, std::optional(at_hour(0.5)),
                                             std::optional(at_hour(3.5)), std::optional(at_hour(7.5))}) {
        const auto expected = oracle(d, dc, at);
        RC_ASSERT(index_pools(*d.capacity, dc, at) == expected);
        RC_ASSERT(index_pools(rebuilt, dc, at) == expected);
      }
    }
    RC_ASSERT(d.capacity->hardware().total() == rebuilt.hardware().total());
  });
}

namespace {

// What sum_of and count_of answered before the scanner: the DOM, always.
domain::quantity dom_sum(const std::string& text, const char* member) {
  const auto v = nlohmann::json::parse(text, nullptr, false);
  if (!v.is_array()) return 0;
  domain::quantity sum = 0;
  for (const auto& item : v) {
    if (!item.is_object()) continue;
    const auto it = item.find(member);
    if (it != item.end()) sum += domain::clamp_to(domain::json_count(*it), domain::record_cap);
  }
  return domain::clamp_to(sum, domain::record_cap);
}

domain::quantity dom_count(const std::string& text) {
  const auto v = nlohmann::json::parse(text, nullptr, false);
  return v.is_array() ? static_cast<domain::quantity>(v.size()) : 0;
}

}  // namespace

TEST_CASE("the field scanner of the capacity readers answers what the JSON parser answers") {
  // Pieces of well-formed, odd and broken JSON, glued at random.
  static const std::vector<std::string> values{"64",
                                               "0",
                                               "-3",
                                               "-0",
                                               "012",
                                               "1.5",
                                               "2e3",
                                               "1E+2",
                                               "123456789012345678",
                                               "9000000000000000000",
                                               "\"64\"",
                                               "\"a\\\"b\"",
                                               "\"\xc3\xa9\"",
                                               "\"\xff\"",
                                               "true",
                                               "false",
                                               "null",
                                               "[1]",
                                               "{\"cores\":1}",
                                               "",
                                               "tru",
                                               "-",
                                               "1.",
                                               "\"x"};
  static const std::vector<std::string> names{"\"cores\"", "\"model\"", "\"size_gb\"", "\"c\\u006fres\"",
                                              "cores"};
  rc::prop("random arrays of objects", [] {
    std::string text;
    if (*rc::gen::inRange(0, 10) == 0) text += " ";
    text += "[";
    const int items = *rc::gen::inRange(0, 4);
    for (int i = 0; i < items; ++i) {
      if (i) text += *rc::gen::inRange(0, 20) == 0 ? ", " : ",";
      if (*rc::gen::inRange(0, 15) == 0) {
        text += *rc::gen::elementOf(values);
        continue;
      }
      text += "{";
      const int members = *rc::gen::inRange(0, 4);
      for (int m = 0; m < members; ++m) {
        if (m) text += ",";
        text += *rc::gen::elementOf(names);
        text += *rc::gen::inRange(0, 20) == 0 ? " : " : ":";
        text += *rc::gen::elementOf(values);
      }
      text += *rc::gen::inRange(0, 30) == 0 ? "" : "}";
    }
    if (*rc::gen::inRange(0, 30) != 0) text += "]";
    crdt::record state;
    const std::vector<crdt::field_write> fields{{"cpus", text}, {"accelerators", text}};
    state.put(crdt::hlc{1, 0, 1}, crdt::hlc{2, 0, 1}, fields);
    const auto facts = domain::read_hardware("server", state);
    RC_ASSERT(facts.own[domain::dimension::cpu] == dom_sum(text, "cores"));
    RC_ASSERT(facts.own[domain::dimension::accelerators] == dom_count(text));
  });
}
