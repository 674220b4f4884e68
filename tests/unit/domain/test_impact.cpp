// Maintenance impact (impact.hpp): what would no longer fit, dry run and
// existing window alike, without disturbing the statuses.
#include <catch2/catch.hpp>

#include "test_scheduler_fixture.hpp"

using namespace horao;
using namespace horao::test;
using domain::dimension;

namespace {

// cpu 100 (s1 60 on hsn, s2 40), block 6 TB on s1.
void site(replica& d) {
  d.put("datacenter/dc1", datacenter());
  d.put("cabinet/c1", cabinet("dc1"));
  d.put("network/fabric", network("dc1", "data", true));
  d.put("server/s1", server("c1", 60, 600, 2, {"fabric"}));
  d.put("server/s2", server("c1", 40, 400, 2));
  d.put("disk/d1", disk("server/s1", 6));
  d.put("tenant/t1", tenant());
  d.put("tenant/t2", tenant());
  REQUIRE(d.reserve("r1", reservation("t1", {compute(40)}, 0, 10)).accepted());
  REQUIRE(d.reserve("r2", reservation("t2", {compute(30)}, 0, 10)).accepted());
  REQUIRE(d.reserve("r3", reservation("t1", {compute(20)}, 20, 30)).accepted());
  REQUIRE(d.reserve("h4", reservation("t2", {compute(10)}, 40, 50, true)).accepted());
  REQUIRE(d.reserve("s5", reservation("t1", {storage(5)}, 60, 70)).accepted());
}

domain::maintenance_window window(double from_h, double to_h, std::vector<std::string> targets) {
  return {at_hour(from_h), at_hour(to_h), std::move(targets)};
}

}  // namespace

TEST_CASE("a dry run lists the reservations and tenants that would no longer fit and by how much") {
  replica d;
  site(d);
  const auto report = d.scheduler->impact_of(window(5, 6, {"server/s1"}));
  // During [5, 6) 40 cores are left: r1 (earlier) keeps them, r2 is 30 short.
  REQUIRE(report.reservations.size() == 1);
  CHECK(report.reservations[0].id == "r2");
  CHECK(report.reservations[0].tenant == "t2");
  CHECK(report.reservations[0].short_by[dimension::cpu] == 30);
  CHECK(report.tenants == std::vector<std::string>{"t2"});
  CHECK(report.to_json() ==
        json::parse(
            R"({"reservations": [{"id": "r2", "tenant": "t2", "short": {"cpu": 30}}], "tenants": ["t2"]})"));
  // The dry run changed nothing.
  for (const char* id : {"r1", "r2", "r3", "h4", "s5"}) CHECK(d.accepted(id));
  CHECK(!d.scheduler->impact_of("nothing"));
}

TEST_CASE("impact follows the window and the targets and the pools") {
  replica d;
  site(d);
  SECTION("the whole cabinet during r3") {
    const auto r = d.scheduler->impact_of(window(25, 26, {"cabinet/c1"}));
    REQUIRE(r.reservations.size() == 1);
    CHECK(r.reservations[0].id == "r3");
    CHECK(r.reservations[0].short_by[dimension::cpu] == 20);
  }
  SECTION("touching windows are not affected") {
    CHECK(d.scheduler->impact_of(window(10, 20, {"cabinet/c1"})).reservations.empty());
  }
  SECTION("an hsn_only reservation loses the hsn machine") {
    const auto r = d.scheduler->impact_of(window(45, 46, {"server/s1"}));
    REQUIRE(r.reservations.size() == 1);
    CHECK(r.reservations[0].id == "h4");
    CHECK(r.to_json()["reservations"][0]["short"] == json{{"cpu", 10}});
  }
  SECTION("a disk takes only storage") {
    const auto r = d.scheduler->impact_of(window(0, 100, {"disk/d1"}));
    REQUIRE(r.reservations.size() == 1);
    CHECK(r.reservations[0].id == "s5");
    CHECK(r.reservations[0].short_by[dimension::block_tb] == 5'000'000);
    CHECK(r.to_json()["reservations"][0]["short"] == json{{"block_tb", 5.0}});
  }
  SECTION("two tenants at once") {
    const auto r = d.scheduler->impact_of(window(0, 100, {"datacenter/dc1"}));
    CHECK(r.reservations.size() == 5);
    CHECK(r.tenants == std::vector<std::string>{"t1", "t2"});
  }
}

TEST_CASE("an existing maintenance reports what it keeps out and the statuses show it") {
  replica d;
  site(d);
  const auto dry = d.scheduler->impact_of(window(5, 6, {"server/s1"}));
  d.put("maintenance/m", maintenance(5, 6, {"server/s1"}));
  CHECK(!d.accepted("r2"));
  CHECK(d.accepted("r1"));
  const auto existing = d.scheduler->impact_of("m");
  REQUIRE(existing);
  CHECK(existing->to_json() == dry.to_json());
  // Asking did not change the statuses.
  CHECK(!d.accepted("r2"));
  CHECK(d.scheduler->conflicted_count() == 1);
  SECTION("a maintenance overlapping no reservation impacts nothing") {
    d.put("maintenance/quiet", maintenance(100, 200, {"cabinet/c1"}));
    CHECK(d.scheduler->impact_of("quiet")->reservations.empty());
  }
  SECTION("a second maintenance on the same server adds nothing to the impact") {
    const auto again = d.scheduler->impact_of(window(5, 6, {"server/s1"}));
    CHECK(again.reservations.empty());
  }
}
