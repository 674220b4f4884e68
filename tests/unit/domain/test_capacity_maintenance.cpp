// Capacity over time: maintenance windows remove what is inside their
// targets during [start, end), overlapping ones never twice.
#include <catch2/catch.hpp>

#include "test_scheduler_fixture.hpp"

using namespace horao;
using namespace horao::test;
using domain::dimension;

namespace {

domain::quantity cpu_at(replica& d, double h, std::string_view dc = {}, bool hsn = false) {
  return d.capacity->capacity({dc, hsn, at_hour(h)})[dimension::cpu];
}

// dc1: cabinet c1 { s1 (64 cores, disk 2 TB), chassis h1 / blade b1 / n1 (32) }, cabinet c2 { s2 (16) }
// dc2: cabinet c3 { s3 (8) }
void site(replica& d) {
  d.put("datacenter/dc1", datacenter(1));
  d.put("datacenter/dc2", datacenter(2));
  d.put("cabinet/c1", cabinet("dc1"));
  d.put("cabinet/c2", cabinet("dc1"));
  d.put("cabinet/c3", cabinet("dc2"));
  d.put("chassis/h1", chassis("c1"));
  d.put("blade/b1", blade("h1"));
  d.put("server/s1", server("c1", 64));
  d.put("node/n1", node_in("b1", 32));
  d.put("server/s2", server("c2", 16));
  d.put("server/s3", server("c3", 8));
  d.put("disk/d1", disk("server/s1", 2));
}

}  // namespace

TEST_CASE("a maintenance removes its targets' capacity from start to end only") {
  replica d;
  site(d);
  d.put("maintenance/m1", maintenance(10, 20, {"server/s1"}));
  CHECK(cpu_at(d, 9.99) == 120);
  CHECK(cpu_at(d, 10) == 56);
  CHECK(cpu_at(d, 19.99) == 56);
  CHECK(cpu_at(d, 20) == 120);
  // The machine takes its disk with it.
  CHECK(d.capacity->capacity({{}, false, at_hour(15)})[dimension::block_tb] == 0);
  // Without `at`, nothing is removed.
  CHECK(d.capacity->capacity({})[dimension::cpu] == 120);
}

TEST_CASE("a cabinet or datacenter target takes everything inside it and a disk target only its storage") {
  replica d;
  site(d);
  d.put("maintenance/cab", maintenance(0, 1, {"cabinet/c1"}));
  d.put("maintenance/dc", maintenance(2, 3, {"datacenter/dc1"}));
  d.put("maintenance/disk", maintenance(4, 5, {"disk/d1"}));
  d.put("maintenance/blade", maintenance(6, 7, {"blade/b1"}));
  CHECK(cpu_at(d, 0.5) == 24);  // s1 and n1 (through the chassis) are in c1
  CHECK(cpu_at(d, 2.5) == 8);
  CHECK(cpu_at(d, 2.5, "dc2") == 8);
  CHECK(cpu_at(d, 2.5, "dc1") == 0);
  CHECK(cpu_at(d, 4.5) == 120);
  CHECK(d.capacity->capacity({{}, false, at_hour(4.5)})[dimension::block_tb] == 0);
  CHECK(cpu_at(d, 6.5) == 88);
}

TEST_CASE("overlapping maintenances on the same hardware are not subtracted twice") {
  replica d;
  site(d);
  SECTION("the same server in two overlapping windows") {
    d.put("maintenance/a", maintenance(0, 10, {"server/s1"}));
    d.put("maintenance/b", maintenance(5, 15, {"server/s1"}));
    CHECK(cpu_at(d, 2) == 56);
    CHECK(cpu_at(d, 7) == 56);
    CHECK(cpu_at(d, 12) == 56);
    CHECK(d.capacity->min_capacity(at_hour(0), at_hour(20), false)[dimension::cpu] == 56);
  }
  SECTION("a server inside a cabinet that is also under maintenance") {
    d.put("maintenance/cab", maintenance(0, 10, {"cabinet/c1"}));
    d.put("maintenance/srv", maintenance(5, 15, {"server/s1", "disk/d1"}));
    CHECK(cpu_at(d, 2) == 24);
    CHECK(cpu_at(d, 7) == 24);   // s1 counted once, inside c1
    CHECK(cpu_at(d, 12) == 56);  // only s1 now
  }
  SECTION("one maintenance naming a target twice, and a target and its ancestor") {
    d.put("maintenance/dup", maintenance(0, 10, {"server/s1", "server/s1", "node/n1", "datacenter/dc1"}));
    CHECK(cpu_at(d, 1) == 8);
  }
  SECTION("the minimum over a window takes the worst piece per dimension") {
    d.put("maintenance/a", maintenance(0, 2, {"server/s1"}));
    d.put("maintenance/b", maintenance(1, 3, {"node/n1"}));
    d.put("maintenance/c", maintenance(2, 4, {"disk/d1"}));
    const auto m = d.capacity->min_capacity(at_hour(0), at_hour(4), false);
    CHECK(m[dimension::cpu] == 24);  // [1, 2): s1 and n1
    CHECK(m[dimension::block_tb] == 0);
    CHECK(d.capacity->min_capacity(at_hour(3), at_hour(4), false)[dimension::cpu] == 120);
  }
}

TEST_CASE("a maintenance follows the hardware under its target as it changes") {
  replica d;
  site(d);
  d.put("maintenance/m", maintenance(0, 10, {"cabinet/c2"}));
  CHECK(cpu_at(d, 1) == 104);
  d.patch("server/s1", {{"cabinet", "c2"}});  // moved into the cabinet under maintenance
  CHECK(cpu_at(d, 1) == 40);
  d.put("server/new", server("c2", 100));
  CHECK(cpu_at(d, 1) == 40);
  CHECK(d.capacity->capacity({})[dimension::cpu] == 220);
  d.put("maintenance/later", maintenance(0, 10, {"server/not-yet"}));
  d.put("server/not-yet", server("c3", 4));
  CHECK(cpu_at(d, 1) == 40);
  d.remove("maintenance/m");
  CHECK(cpu_at(d, 1) == 220);
}

TEST_CASE("maintenance in the hsn pool removes only hsn hardware") {
  replica d;
  site(d);
  d.put("network/f", network("dc1", "data", true));
  d.patch("server/s1", {{"networks", {"f"}}});
  d.put("maintenance/m", maintenance(0, 10, {"cabinet/c1"}));
  CHECK(cpu_at(d, 1, {}, true) == 0);
  CHECK(cpu_at(d, 11, {}, true) == 64);
  d.put("maintenance/n", maintenance(20, 30, {"node/n1"}));
  CHECK(cpu_at(d, 21, {}, true) == 64);
}
