// The relation table and relation_index: live children and orphans kept
// incrementally from store changes, equal to a rebuild from scratch.

#include <rapidcheck/catch.h>

#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "horao/crdt/clock.hpp"
#include "horao/domain/relations.hpp"
#include "horao/store/record_store.hpp"

using namespace horao;
using domain::relation_index;
using nlohmann::json;
using strings = std::vector<std::string>;

namespace {

struct fake_time final : crdt::time_source {
  std::int64_t now = 1'800'000'000'000'000;
  std::int64_t now_us() const override { return now; }
};

// One site: a clock, a store and an index over it.
struct site {
  explicit site(const char* name) : clock(*crdt::node_names().intern(name), time), store(clock) {}
  fake_time time;
  crdt::hybrid_clock clock;
  store::record_store store;
  relation_index index{store};

  static std::vector<crdt::field_write> writes(const json& body) {
    std::vector<crdt::field_write> w;
    for (const auto& [name, value] : body.items()) w.push_back({name, value.is_null() ? "" : value.dump()});
    return w;
  }
  void put(std::string_view key, const json& body) {
    time.now += 1000;
    store.put(key, writes(body));
  }
  void patch(std::string_view key, const json& body) {
    time.now += 1000;
    REQUIRE(store.patch(key, writes(body)));
  }
  void remove(std::string_view key) {
    time.now += 1000;
    REQUIRE(store.remove(key));
  }
  // Sends this site's state of `key` to `other`.
  void send(std::string_view key, site& other) const {
    REQUIRE(other.store.merge(key, store.find(key)->state, clock.self()) !=
            store::merge_outcome::rejected_clock);
  }
};

strings orphan_keys(const relation_index& index) {
  strings keys;
  for (const auto& o : index.orphans()) keys.push_back(o.key);
  return keys;
}

}  // namespace

TEST_CASE("relations are the parent references of API.md") {
  std::set<std::string> got;
  for (const auto& r : domain::all_relations()) got.insert(std::string(r.child->kind) + "." + r.field->name);
  CHECK(got == std::set<std::string>{"cabinet.datacenter", "chassis.cabinet", "blade.chassis", "node.blade",
                                     "server.cabinet", "switch.cabinet", "router.cabinet", "firewall.cabinet",
                                     "disk.machine", "network.datacenter", "vm.host", "vm.tenant",
                                     "vm.reservation", "reservation.tenant"});
  CHECK(domain::relations_of("vm").size() == 3);
  CHECK(domain::relations_of("datacenter").empty());
  const auto disk = domain::relations_of("disk");
  REQUIRE(disk.size() == 1);
  CHECK(domain::parent_key(disk[0], R"("node/n1")") == "node/n1");
  CHECK_FALSE(domain::parent_key(disk[0], R"("switch/x")"));
  CHECK_FALSE(domain::parent_key(disk[0], "42"));
  CHECK_FALSE(domain::parent_key(disk[0], "not json"));
  CHECK(domain::parent_key(domain::relations_of("server")[0], R"("cab1")") == "cabinet/cab1");
  CHECK_FALSE(domain::parent_key(domain::relations_of("server")[0], R"("cab 1")"));
}

TEST_CASE("children appear and disappear with put, patch and delete") {
  site d("dc-a");
  d.put("datacenter/dc1", {{"name", "a"}, {"number", 1}});
  d.put("cabinet/c1", {{"datacenter", "dc1"}, {"row", 1}, {"position", 1}});
  d.put("cabinet/c2", {{"datacenter", "dc1"}, {"row", 1}, {"position", 2}});
  d.put("server/s2", {{"cabinet", "c1"}});
  d.put("server/s1", {{"cabinet", "c1"}});
  d.put("switch/sw1", {{"cabinet", "c1"}});

  CHECK(d.index.children("datacenter/dc1") == strings{"cabinet/c1", "cabinet/c2"});
  CHECK(d.index.children("cabinet/c1") == strings{"server/s1", "server/s2", "switch/sw1"});
  CHECK(d.index.children("cabinet/c1", 2) == strings{"server/s1", "server/s2"});
  CHECK(d.index.children_of_kind("cabinet/c1", "server") == strings{"server/s1", "server/s2"});
  CHECK(d.index.children_of_kind("cabinet/c1", "switch") == strings{"switch/sw1"});
  CHECK(d.index.children_of_kind("cabinet/c1", "serve").empty());
  CHECK(d.index.child_count("cabinet/c1") == 3);
  CHECK(d.index.has_live_children("cabinet/c1"));
  CHECK_FALSE(d.index.has_live_children("cabinet/c2"));
  CHECK_FALSE(d.index.has_live_children("server/s1"));
  CHECK(d.index.parents("server/s1") == std::vector<domain::parent_link>{{"cabinet", "cabinet/c1"}});

  // Re-parenting through PUT (a replace) and through PATCH.
  d.put("server/s1", {{"cabinet", "c2"}, {"status", "down"}});
  CHECK(d.index.children("cabinet/c1") == strings{"server/s2", "switch/sw1"});
  CHECK(d.index.children("cabinet/c2") == strings{"server/s1"});
  d.patch("server/s2", {{"cabinet", "c2"}});
  CHECK(d.index.children("cabinet/c2") == strings{"server/s1", "server/s2"});
  // A patch that leaves the parent alone changes nothing.
  d.patch("server/s2", {{"status", "down"}});
  CHECK(d.index.children("cabinet/c2") == strings{"server/s1", "server/s2"});

  d.remove("switch/sw1");
  CHECK_FALSE(d.index.has_live_children("cabinet/c1"));
  CHECK(d.index.children("cabinet/c1").empty());
  CHECK(d.index.parents("switch/sw1").empty());
  CHECK(d.index.orphan_count() == 0);

  // A PUT brings the deleted child back under its parent.
  d.put("switch/sw1", {{"cabinet", "c1"}});
  CHECK(d.index.children("cabinet/c1") == strings{"switch/sw1"});
}

TEST_CASE("optional parents come and go; a vm hangs under host, tenant and reservation") {
  site d("dc-a");
  d.put("tenant/t1", {{"owner", "o"}});
  d.put("reservation/r1", {{"tenant", "t1"}, {"resources", json::array()}});
  d.put("server/s1", {{"cabinet", "c1"}});
  d.put("vm/v1", {{"host", "server/s1"}, {"cpu", 1}, {"ram_gb", 1}, {"tenant", "t1"}, {"reservation", "r1"}});
  CHECK(d.index.children("tenant/t1") == strings{"reservation/r1", "vm/v1"});
  CHECK(d.index.children("reservation/r1") == strings{"vm/v1"});
  CHECK(d.index.children("server/s1") == strings{"vm/v1"});
  // A merge patch with null removes the field, and with it the relation.
  d.patch("vm/v1", {{"reservation", nullptr}});
  CHECK_FALSE(d.index.has_live_children("reservation/r1"));
  CHECK(d.index.children("tenant/t1") == strings{"reservation/r1", "vm/v1"});
  d.patch("vm/v1", {{"host", "node/n1"}});
  CHECK(d.index.children("node/n1") == strings{"vm/v1"});
  CHECK_FALSE(d.index.has_live_children("server/s1"));
}

TEST_CASE("a concurrent delete of a parent leaves an orphan after the merge") {
  site a("dc-a");
  site b("dc-b");
  a.put("datacenter/dc1", {{"name", "a"}, {"number", 1}});
  a.put("cabinet/c1", {{"datacenter", "dc1"}, {"row", 1}, {"position", 1}});
  a.send("datacenter/dc1", b);
  a.send("cabinet/c1", b);
  CHECK(b.index.children("datacenter/dc1") == strings{"cabinet/c1"});

  // Concurrently: a deletes the empty cabinet, b adds a server to it.
  a.remove("cabinet/c1");
  b.put("server/s1", {{"cabinet", "c1"}});
  CHECK(b.index.orphan_count() == 0);

  a.send("cabinet/c1", b);
  b.send("server/s1", a);
  for (site* d : {&a, &b}) {
    CHECK(d->index.orphan_count() == 1);
    CHECK(d->index.is_orphan("server/s1"));
    const auto orphans = d->index.orphans();
    REQUIRE(orphans.size() == 1);
    CHECK(orphans[0].key == "server/s1");
    CHECK(orphans[0].missing == std::vector<domain::parent_link>{{"cabinet", "cabinet/c1"}});
    // Still a child of the dead key: the tree view and a re-created cabinet find it.
    CHECK(d->index.children("cabinet/c1") == strings{"server/s1"});
    CHECK_FALSE(d->index.has_live_children("datacenter/dc1"));
  }

  // Re-creating the parent adopts the orphan back.
  a.put("cabinet/c1", {{"datacenter", "dc1"}, {"row", 1}, {"position", 1}});
  CHECK(a.index.orphan_count() == 0);
  // Re-parenting it elsewhere ends the orphanhood too.
  b.put("cabinet/c2", {{"datacenter", "dc1"}, {"row", 1}, {"position", 2}});
  b.patch("server/s1", {{"cabinet", "c2"}});
  CHECK(b.index.orphan_count() == 0);
  CHECK(b.index.children("cabinet/c1").empty());
}

TEST_CASE("a child that arrives before its parent is an orphan only until the parent arrives") {
  site a("dc-a");
  site b("dc-b");
  a.put("cabinet/c1", {{"datacenter", "dc1"}, {"row", 1}, {"position", 1}});
  a.put("server/s1", {{"cabinet", "c1"}});
  a.send("server/s1", b);
  CHECK(b.index.orphans().size() == 1);
  a.send("cabinet/c1", b);
  CHECK_FALSE(b.index.is_orphan("server/s1"));
  // The cabinet itself references a datacenter neither site holds.
  CHECK(b.index.is_orphan("cabinet/c1"));
  CHECK(orphan_keys(b.index) == strings{"cabinet/c1"});
  // Deleting the orphan ends it.
  b.remove("cabinet/c1");
  CHECK(orphan_keys(b.index) == strings{"server/s1"});
  b.remove("server/s1");
  CHECK(b.index.orphan_count() == 0);
}

TEST_CASE("a reference no resource can have makes an orphan with an empty parent key") {
  site a("dc-a");
  a.put("server/s1", {{"cabinet", 42}});
  a.put("disk/d1", {{"machine", "switch/sw1"}, {"capacity_tb", 1}});
  a.put("server/s2", {{"status", "up"}});  // the required cabinet is missing
  CHECK(orphan_keys(a.index) == strings{"disk/d1", "server/s1", "server/s2"});
  const auto orphans = a.index.orphans("disk/d1", 1);
  REQUIRE(orphans.size() == 1);
  CHECK(orphans[0].key == "server/s1");
  CHECK(orphans[0].missing == std::vector<domain::parent_link>{{"cabinet", ""}});
}

TEST_CASE("rebuild after a recovery that did not notify") {
  site a("dc-a");
  a.put("datacenter/dc1", {{"name", "a"}, {"number", 1}});
  a.put("cabinet/c1", {{"datacenter", "dc1"}, {"row", 1}, {"position", 1}});
  a.put("server/s1", {{"cabinet", "c1"}});
  a.put("server/s2", {{"cabinet", "c-gone"}});

  site b("dc-b");
  for (const char* key : {"datacenter/dc1", "cabinet/c1", "server/s1", "server/s2"})
    b.store.restore(key, a.store.find(key)->state, a.store.find(key)->seq);
  b.store.restore_sequence(a.store.seq());
  CHECK_FALSE(b.index.has_live_children("cabinet/c1"));  // restore() does not notify
  b.index.rebuild();
  CHECK(b.index.children("cabinet/c1") == strings{"server/s1"});
  CHECK(b.index.children("datacenter/dc1") == strings{"cabinet/c1"});
  CHECK(orphan_keys(b.index) == strings{"server/s2"});

  // A new index over a filled store starts out complete.
  relation_index fresh(a.store);
  CHECK(fresh.children("cabinet/c1") == strings{"server/s1"});
  CHECK(orphan_keys(fresh) == strings{"server/s2"});
}

TEST_CASE("an index unsubscribes when destroyed") {
  site a("dc-a");
  {
    relation_index scoped(a.store);
    a.put("server/s1", {{"cabinet", "c1"}});
    CHECK(scoped.is_orphan("server/s1"));
  }
  a.put("server/s2", {{"cabinet", "c1"}});  // would call into the destroyed index
  CHECK(a.index.children("cabinet/c1") == strings{"server/s1", "server/s2"});
}

TEST_CASE("the incremental index equals a rebuild after any history") {
  rc::prop("random writes, deletes and merges of two daemons", [] {
    // Small universes so that parents, children and re-parenting collide.
    static const strings cabinets{"cabinet/c1", "cabinet/c2", "cabinet/c3"};
    static const strings servers{"server/s1", "server/s2", "server/s3"};
    static const strings vms{"vm/v1", "vm/v2"};
    static const strings tenants{"tenant/t1", "tenant/t2"};
    auto a = std::make_unique<site>("dc-a");
    auto b = std::make_unique<site>("dc-b");
    auto id_of = [](const std::string& key) { return key.substr(key.find('/') + 1); };
    const int steps = *rc::gen::inRange(1, 60);
    for (int i = 0; i < steps; ++i) {
      site& d = *rc::gen::arbitrary<bool>() ? *a : *b;
      site& other = &d == a.get() ? *b : *a;
      const int op = *rc::gen::inRange(0, 9);
      std::string key;
      json body;
      switch (op) {
        case 0:
          key = *rc::gen::elementOf(cabinets);
          body = {{"datacenter", "dc1"}, {"row", 1}, {"position", 1}};
          break;
        case 1:
        case 2:
          key = *rc::gen::elementOf(servers);
          body = {{"cabinet", id_of(*rc::gen::elementOf(cabinets))}};
          break;
        case 3:
          key = *rc::gen::elementOf(vms);
          body = {{"host", *rc::gen::elementOf(servers)}, {"cpu", 1}, {"ram_gb", 1}};
          if (*rc::gen::arbitrary<bool>()) body["tenant"] = id_of(*rc::gen::elementOf(tenants));
          break;
        case 4:
          key = *rc::gen::elementOf(tenants);
          body = {{"owner", "o"}};
          break;
        default:
          break;
      }
      if (op <= 4) {
        d.put(key, body);
      } else if (op == 5) {  // patch a parent field, or remove an optional one
        key = *rc::gen::elementOf(*rc::gen::arbitrary<bool>() ? servers : vms);
        const json patch =
            key.starts_with("server/")
                ? json{{"cabinet", id_of(*rc::gen::elementOf(cabinets))}}
                : json{{"tenant", *rc::gen::arbitrary<bool>() ? json(nullptr)
                                                              : json(id_of(*rc::gen::elementOf(tenants)))}};
        if (d.store.find_alive(key)) d.patch(key, patch);
      } else if (op == 6) {  // delete anything
        const strings* pools[] = {&cabinets, &servers, &vms, &tenants};
        key = *rc::gen::elementOf(**rc::gen::elementOf(std::vector<const strings*>(pools, pools + 4)));
        if (d.store.find_alive(key)) d.remove(key);
      } else if (op == 8) {  // purge the tombstones: the index holds the store's key text
        d.time.now += 1000;
        d.store.purge_tombstones(d.time.now, 1000);
      } else {  // replicate one key
        const strings* pools[] = {&cabinets, &servers, &vms, &tenants};
        key = *rc::gen::elementOf(**rc::gen::elementOf(std::vector<const strings*>(pools, pools + 4)));
        if (d.store.find(key)) d.send(key, other);
      }
    }
    for (site* d : {a.get(), b.get()}) {
      relation_index rebuilt(d->store);
      RC_ASSERT(orphan_keys(d->index) == orphan_keys(rebuilt));
      for (const auto* pool : {&cabinets, &servers, &vms, &tenants}) {
        for (const auto& key : *pool) {
          RC_ASSERT(d->index.children(key) == rebuilt.children(key));
          RC_ASSERT(d->index.parents(key) == rebuilt.parents(key));
        }
      }
      // And the orphans are exactly the live records with a dead parent.
      for (const auto* pool : {&cabinets, &servers, &vms, &tenants}) {
        for (const auto& key : *pool) {
          bool dead_parent = false;
          for (const auto& link : d->index.parents(key)) dead_parent |= !d->store.find_alive(link.key);
          RC_ASSERT(d->index.is_orphan(key) == (d->store.find_alive(key) && dead_parent));
        }
      }
    }
  });
}

TEST_CASE("keys held by the index outlive the purge of a dead parent") {
  site d("dc-a");
  d.put("datacenter/dc1", {{"name", "one"}});
  d.put("cabinet/c1", {{"datacenter", "dc1"}, {"row", 1}, {"position", 1}});
  d.put("server/s1", {{"cabinet", "c1"}});
  d.put("vm/v1", {{"host", "server/s1"}, {"cpu", 1}, {"ram_gb", 1}});
  // A replicated delete: the store takes it even with live children.
  d.remove("cabinet/c1");
  d.time.now += 1000;
  CHECK(d.store.purge_tombstones(d.time.now, 10) == 1);
  REQUIRE(d.store.find("cabinet/c1") == nullptr);
  // Churn the allocator so that freed text would be overwritten.
  for (int i = 0; i < 2000; ++i) d.put("tenant/t" + std::to_string(i), {{"owner", "o"}});
  CHECK(d.index.children("cabinet/c1") == strings{"server/s1"});
  CHECK(orphan_keys(d.index) == strings{"server/s1"});
  const auto missing = d.index.orphans();
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].missing == std::vector<domain::parent_link>{{"cabinet", "cabinet/c1"}});

  // The children die and are purged too; the same keys come back as new records.
  d.remove("vm/v1");
  d.remove("server/s1");
  d.time.now += 1000;
  CHECK(d.store.purge_tombstones(d.time.now, 10) == 2);
  CHECK_FALSE(d.index.has_live_children("cabinet/c1"));
  CHECK(d.index.orphan_count() == 0);
  for (int i = 0; i < 2000; ++i) d.put("tenant/u" + std::to_string(i), {{"owner", "o"}});
  d.put("server/s1", {{"cabinet", "c1"}});
  d.put("vm/v1", {{"host", "server/s1"}, {"cpu", 1}, {"ram_gb", 1}});
  CHECK(d.index.children("server/s1") == strings{"vm/v1"});
  CHECK(orphan_keys(d.index) == strings{"server/s1"});
  d.put("cabinet/c1", {{"datacenter", "dc1"}, {"row", 1}, {"position", 1}});
  CHECK(d.index.orphan_count() == 0);
  relation_index rebuilt(d.store);
  CHECK(rebuilt.children("cabinet/c1") == d.index.children("cabinet/c1"));
  CHECK(rebuilt.parents("vm/v1") == d.index.parents("vm/v1"));
}
