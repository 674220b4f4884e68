// Tenant usage (usage.hpp): accepted reservations active at an instant,
// next to the constraints.
#include <catch2/catch.hpp>

#include "test_scheduler_fixture.hpp"

using namespace horao;
using namespace horao::test;
using domain::dimension;

TEST_CASE("usage sums the tenant's accepted reservations active at an instant next to its constraints") {
  replica d;
  d.put("datacenter/dc1", datacenter());
  d.put("cabinet/c1", cabinet("dc1"));
  d.put("server/s1", server("c1", 100, 1000, 4));
  d.put("disk/d1", disk("server/s1", 10));
  d.put("tenant/t1", tenant({{"cpu", 50}, {"block_tb", 2.5}}));
  d.put("tenant/t2", tenant());
  REQUIRE(d.reserve("a", reservation("t1", {compute(15, 100, false, 2), storage(1.5)}, 0, 10)).accepted());
  REQUIRE(d.reserve("b", reservation("t1", {compute(20, 0, true)}, 5, 15)).accepted());
  REQUIRE(d.reserve("other", reservation("t2", {compute(40)}, 0, 100)).accepted());

  auto u = d.scheduler->usage("t1", at_hour(6));
  CHECK(u.usage[dimension::cpu] == 50);
  CHECK(u.usage[dimension::ram_gb] == 200);
  CHECK(u.usage[dimension::accelerators] == 1);
  CHECK(u.usage[dimension::block_tb] == 1'500'000);
  CHECK(u.reservations == std::vector<std::string>{"a", "b"});
  CHECK(u.to_json() == json::parse(R"({"tenant": "t1", "at": "2026-12-01T06:00:00Z",
      "usage": {"cpu": 50, "ram_gb": 200, "accelerators": 1, "block_tb": 1.5, "object_tb": 0.0},
      "constraints": {"cpu": 50, "block_tb": 2.5}, "reservations": ["a", "b"]})"));

  CHECK(d.scheduler->usage("t1", at_hour(12)).usage[dimension::cpu] == 20);
  CHECK(d.scheduler->usage("t1", at_hour(15)).usage[dimension::cpu] == 0);  // [5, 15) has ended
  CHECK(d.scheduler->usage("t1", at_hour(-1)).reservations.empty());
  CHECK(d.scheduler->usage("nobody", at_hour(6)).usage.is_zero());

  SECTION("a conflicted reservation holds nothing") {
    // Written without a decision, as a concurrent peer would: over t1's limit.
    d.put("reservation/c", reservation("t1", {compute(10)}, 6, 7));
    REQUIRE(!d.accepted("c"));
    CHECK(d.scheduler->usage("t1", at_hour(6.5)).usage[dimension::cpu] == 50);
  }
  SECTION("a cancelled reservation holds nothing") {
    d.remove("reservation/a");
    CHECK(d.scheduler->usage("t1", at_hour(6)).usage[dimension::cpu] == 20);
  }
}
