// The capacity index: what counts, per datacenter, hsn, and how it follows
// changes of placement (topology.hpp, capacity.hpp).
#include <catch2/catch.hpp>

#include "test_scheduler_fixture.hpp"

using namespace horao;
using namespace horao::test;
using domain::dimension;

namespace {

domain::amounts cap(replica& d, std::string_view dc = {}, bool hsn = false) {
  return d.capacity->capacity({dc, hsn, std::nullopt});
}

domain::quantity cpu(replica& d, std::string_view dc = {}, bool hsn = false) {
  return cap(d, dc, hsn)[dimension::cpu];
}

// Two datacenters; dc1 has a cabinet with a server, and a chassis/blade/node.
void small_site(replica& d) {
  d.put("datacenter/dc1", datacenter(1));
  d.put("datacenter/dc2", datacenter(2));
  d.put("cabinet/c1", cabinet("dc1"));
  d.put("cabinet/c2", cabinet("dc2"));
  d.put("chassis/h1", chassis("c1"));
  d.put("blade/b1", blade("h1"));
  d.put("server/s1", server("c1", 64, 512, 2));
  d.put("node/n1", node_in("b1", 32, 256, 1));
  d.put("server/s2", server("c2", 16, 128, 0));
}

}  // namespace

TEST_CASE("capacity sums cores RAM accelerators and storage of live and up machines") {
  replica d;
  small_site(d);
  d.put("disk/d1", disk("server/s1", 1.5, "block"));
  d.put("disk/d2", disk("node/n1", 2.25, "object"));
  d.put("disk/d3", disk("server/s2", 0.5, "block"));
  const auto all = cap(d);
  CHECK(all[dimension::cpu] == 64 + 32 + 16);
  CHECK(all[dimension::ram_gb] == 512 + 256 + 128);
  CHECK(all[dimension::accelerators] == 3);
  CHECK(all[dimension::block_tb] == 2'000'000);  // 1.5 + 0.5 TB in micro-TB
  CHECK(all[dimension::object_tb] == 2'250'000);
  const json view = domain::capacity_json(all);
  CHECK(view ==
        json{{"cpu", 112}, {"ram_gb", 896}, {"accelerators", 3}, {"block_tb", 2.0}, {"object_tb", 2.25}});

  SECTION("per datacenter") {
    CHECK(cpu(d, "dc1") == 96);
    CHECK(cpu(d, "dc2") == 16);
    CHECK(cap(d, "dc2")[dimension::block_tb] == 500'000);
    CHECK(cpu(d, "nowhere") == 0);
  }
  SECTION("a down machine, a down disk and a disk of a down machine do not count") {
    d.patch("server/s1", {{"status", "down"}});
    d.patch("disk/d3", {{"status", "down"}});
    CHECK(cpu(d) == 48);
    CHECK(cap(d)[dimension::block_tb] == 0);
    CHECK(cap(d)[dimension::accelerators] == 1);
    d.patch("server/s1", {{"status", "up"}});
    CHECK(cpu(d) == 112);
    CHECK(cap(d)[dimension::block_tb] == 1'500'000);
  }
  SECTION("deleted machines and disks stop counting") {
    d.remove("node/n1");
    CHECK(cpu(d) == 80);
    CHECK(cap(d)[dimension::object_tb] == 0);  // its disk cannot be located any more
    d.remove("disk/d1");
    CHECK(cap(d)[dimension::block_tb] == 500'000);
  }
}

TEST_CASE(
    "a machine under a dead or missing or down parent does not count and counts again when it is back") {
  replica d;
  small_site(d);
  REQUIRE(cpu(d) == 112);
  SECTION("blade down takes its nodes") {
    d.patch("blade/b1", {{"status", "down"}});
    CHECK(cpu(d) == 80);
    d.patch("blade/b1", {{"status", "up"}});
    CHECK(cpu(d) == 112);
  }
  SECTION("cabinet deleted (as a concurrent delete on a peer would) takes servers and the chassis' nodes") {
    d.remove("cabinet/c1");
    CHECK(cpu(d) == 16);
    CHECK(cpu(d, "dc1") == 0);
    d.put("cabinet/c1", cabinet("dc1"));
    CHECK(cpu(d) == 112);
  }
  SECTION("datacenter deleted") {
    d.remove("datacenter/dc1");
    CHECK(cpu(d) == 16);
    d.put("datacenter/dc1", datacenter(1));
    CHECK(cpu(d, "dc1") == 96);
  }
  SECTION("a child that arrives before its parent counts once the parent arrives") {
    d.put("server/early", server("c9", 8));
    d.put("disk/early-d", disk("server/early", 3));
    CHECK(cpu(d) == 112);
    d.put("cabinet/c9", cabinet("dc2"));
    CHECK(cpu(d) == 120);
    CHECK(cpu(d, "dc2") == 24);
    CHECK(cap(d, "dc2")[dimension::block_tb] == 3'000'000);
  }
}

TEST_CASE("re-parenting moves capacity between datacenters and disks move between machines") {
  replica d;
  small_site(d);
  d.put("disk/d1", disk("server/s1", 4));
  REQUIRE(cpu(d, "dc1") == 96);
  d.patch("server/s1", {{"cabinet", "c2"}});
  CHECK(cpu(d, "dc1") == 32);
  CHECK(cpu(d, "dc2") == 80);
  CHECK(cap(d, "dc2")[dimension::block_tb] == 4'000'000);
  CHECK(cpu(d) == 112);

  d.patch("disk/d1", {{"machine", "node/n1"}});
  CHECK(cap(d, "dc1")[dimension::block_tb] == 4'000'000);
  CHECK(cap(d, "dc2")[dimension::block_tb] == 0);

  d.patch("chassis/h1", {{"cabinet", "c2"}});  // moves the blade, the node and its disk
  CHECK(cpu(d, "dc1") == 0);
  CHECK(cpu(d, "dc2") == 112);
  CHECK(cap(d, "dc2")[dimension::block_tb] == 4'000'000);
}

TEST_CASE("hsn_only counts machines attached to a live hsn data network and follows the network") {
  replica d;
  small_site(d);
  d.put("network/fabric", network("dc1", "data", true));
  d.put("network/mgmt", network("dc1", "management", false));
  d.patch("server/s1", {{"networks", {"mgmt", "fabric"}}});
  d.patch("node/n1", {{"networks", {"mgmt"}}});
  d.put("disk/d1", disk("server/s1", 2));
  CHECK(cpu(d, {}, true) == 64);
  CHECK(cap(d, {}, true)[dimension::block_tb] == 2'000'000);
  CHECK(cpu(d, "dc2", true) == 0);

  SECTION("the hsn flag flips off and on") {
    d.patch("network/fabric", {{"hsn", false}});
    CHECK(cpu(d, {}, true) == 0);
    CHECK(cap(d, {}, true)[dimension::block_tb] == 0);
    d.patch("network/fabric", {{"hsn", true}});
    CHECK(cpu(d, {}, true) == 64);
  }
  SECTION("an hsn network that is not a data network does not count") {
    d.patch("network/mgmt", {{"hsn", true}});
    CHECK(cpu(d, {}, true) == 64);
    d.patch("network/mgmt", {{"network_type", "data"}});
    CHECK(cpu(d, {}, true) == 96);
    d.patch("network/mgmt", {{"network_type", "control"}});
    CHECK(cpu(d, {}, true) == 64);
  }
  SECTION("deleting the network, or detaching the machine") {
    d.remove("network/fabric");
    CHECK(cpu(d, {}, true) == 0);
    d.put("network/fabric", network("dc1", "data", true));
    CHECK(cpu(d, {}, true) == 64);
    d.patch("server/s1", {{"networks", {"mgmt"}}});
    CHECK(cpu(d, {}, true) == 0);
  }
  SECTION("a machine naming a network that arrives later") {
    d.patch("server/s2", {{"networks", {"late"}}});
    CHECK(cpu(d, {}, true) == 64);
    d.put("network/late", network("dc2", "data", true));
    CHECK(cpu(d, {}, true) == 80);
    CHECK(cpu(d, "dc2", true) == 16);
  }
}

TEST_CASE("untrusted field values never make capacity negative nor throw") {
  replica d;
  d.put("datacenter/dc1", datacenter());
  d.put("cabinet/c1", cabinet("dc1"));
  d.put("server/bad1", {{"cabinet", "c1"}, {"cpus", {{{"cores", -50}}}}, {"ram", "lots"}});
  d.put("server/bad2", {{"cabinet", 7}, {"cpus", {{{"cores", 8}}}}});  // cannot name a cabinet: not placed
  d.put("server/huge",
        {{"cabinet", "c1"},
         {"cpus", {{{"cores", 9'000'000'000'000'000'000ULL}}, {{"cores", 9'000'000'000'000'000'000ULL}}}}});
  d.put("disk/bad", {{"machine", "cabinet/c1"}, {"capacity_tb", 1}});  // not a machine key
  d.put("disk/nan", {{"machine", "server/huge"}, {"capacity_tb", "x"}});
  d.put("disk/inf", {{"machine", "server/huge"}, {"capacity_tb", 1e308}});
  const auto all = cap(d);
  CHECK(all[dimension::cpu] == domain::record_cap);  // clamped, not wrapped
  CHECK(all[dimension::ram_gb] == 0);
  CHECK(all[dimension::block_tb] == domain::record_cap);
  for (auto q : all.q) CHECK(q >= 0);
}

TEST_CASE("a dead cabinet that still holds a server keeps its key after the tombstone is purged") {
  replica d;
  d.put("datacenter/dc1", datacenter(1));
  d.put("cabinet/c1", cabinet("dc1"));
  d.put("server/s1", server("c1", 64, 512, 2));
  CHECK(cpu(d) == 64);
  d.remove("cabinet/c1");  // as a replicated delete would: the server stays
  CHECK(cpu(d) == 0);
  d.time.now += 1'000'000;
  CHECK(d.store.purge_tombstones(d.time.now, 10) == 1);
  REQUIRE(d.store.find("cabinet/c1") == nullptr);
  for (int i = 0; i < 2000; ++i) d.put("datacenter/x" + std::to_string(i), datacenter(2));
  const auto* placeholder = d.capacity->hardware().find("cabinet/c1");
  REQUIRE(placeholder != nullptr);
  CHECK(placeholder->key == "cabinet/c1");
  CHECK_FALSE(placeholder->alive);
  CHECK(d.capacity->hardware().find("server/s1")->parent_key() == "cabinet/c1");
  d.put("cabinet/c1", cabinet("dc1"));
  CHECK(cpu(d) == 64);
  CHECK(cpu(d, "dc1") == 64);
  d.remove("server/s1");
  d.time.now += 1'000'000;
  d.store.purge_tombstones(d.time.now, 10);
  d.put("server/s1", server("c1", 8));
  CHECK(cpu(d, "dc1") == 8);
  domain::capacity_index rebuilt(d.store);
  CHECK(rebuilt.hardware().total() == d.capacity->hardware().total());
}
