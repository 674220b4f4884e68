// Scheduling decisions (API.md "Scheduling"): tables of fits and refusals.
#include <catch2/catch.hpp>

#include "test_scheduler_fixture.hpp"

using namespace horao;
using namespace horao::test;
using domain::dimension;
using domain::verdict;

namespace {

// Capacity: cpu 100, ram_gb 1000, accelerators 4, block 10 TB, object 20 TB;
// s1 (60 cores, 600 GB, 2 accelerators, 6 TB block) is on the hsn fabric.
void site(replica& d) {
  d.put("datacenter/dc1", datacenter());
  d.put("cabinet/c1", cabinet("dc1"));
  d.put("network/fabric", network("dc1", "data", true));
  d.put("server/s1", server("c1", 60, 600, 2, {"fabric"}));
  d.put("server/s2", server("c1", 40, 400, 2));
  d.put("disk/d1", disk("server/s1", 6));
  d.put("disk/d2", disk("server/s2", 4));
  d.put("disk/d3", disk("server/s2", 20, "object"));
  d.put("tenant/t1", tenant());
  d.put("tenant/t2",
        tenant({{"cpu", 50}, {"ram_gb", 500}, {"accelerators", 2}, {"block_tb", 5}, {"object_tb", 10}}));
  d.time.now = at_hour(0);
}

}  // namespace

TEST_CASE("a reservation that fits or exactly fits or is one unit short in one dimension") {
  struct row {
    const char* name;
    json resources;
    verdict expected;
    dimension dim;
    domain::quantity short_by;
  };
  const std::vector<row> table{
      {"fits", {compute(50, 500)}, verdict::accepted, dimension::cpu, 0},
      {"exactly fits every dimension",
       {compute(25, 250, true, 4), storage(10), storage(20, "object")},
       verdict::accepted,
       dimension::cpu,
       0},
      {"cpu one short", {compute(101)}, verdict::insufficient_capacity, dimension::cpu, 1},
      {"cpu one short through amount",
       {compute(1, 0, false, 101)},
       verdict::insufficient_capacity,
       dimension::cpu,
       1},
      {"ram one short", {compute(1, 1001)}, verdict::insufficient_capacity, dimension::ram_gb, 1},
      {"accelerators one short",
       {compute(1, 0, true, 5)},
       verdict::insufficient_capacity,
       dimension::accelerators,
       1},
      {"block one unit short", {storage(10.000001)}, verdict::insufficient_capacity, dimension::block_tb, 1},
      {"object one unit short",
       {storage(20.000001, "object")},
       verdict::insufficient_capacity,
       dimension::object_tb,
       1},
      {"storage of one type does not use the other",
       {storage(10.5, "block"), storage(1, "object")},
       verdict::insufficient_capacity,
       dimension::block_tb,
       500'000},
  };
  for (const auto& r : table) {
    DYNAMIC_SECTION(r.name) {
      replica d;
      site(d);
      const auto dec = d.reserve("r", reservation("t1", r.resources, 0, 10));
      REQUIRE(dec.outcome == r.expected);
      if (r.expected == verdict::accepted) {
        CHECK(d.accepted("r"));
        CHECK(dec.body["start"] == time_text(0));
        CHECK(dec.body["end"] == time_text(10));
      } else {
        CHECK(dec.status == 409);
        CHECK(dec.code == "insufficient_capacity");
        REQUIRE(dec.shortages.size() == 1);
        CHECK(dec.shortages[0].dim == r.dim);
        CHECK(dec.shortages[0].short_by == r.short_by);
        CHECK(dec.message.find(std::string(domain::name_of(r.dim)) + " short by") != std::string::npos);
        CHECK(!d.scheduler->status_of("r"));  // nothing was written
      }
    }
  }
}

TEST_CASE("overlapping windows share capacity and touching half-open windows do not") {
  replica d;
  site(d);
  REQUIRE(d.reserve("r0", reservation("t1", {compute(60)}, 0, 10)).accepted());
  const auto overlapping = d.reserve("r1", reservation("t1", {compute(50)}, 5, 15));
  REQUIRE(overlapping.outcome == verdict::insufficient_capacity);
  CHECK(overlapping.shortages[0].short_by == 10);
  CHECK(overlapping.shortages[0].available == 40);
  CHECK(overlapping.worst_at == at_hour(5));
  REQUIRE(overlapping.holders.size() == 1);
  CHECK(overlapping.holders[0].key == "reservation/r0");
  CHECK(overlapping.holders[0].tenant == "t1");
  CHECK(overlapping.holders[0].amount == 60);
  CHECK(overlapping.message.find("reservation/r0") != std::string::npos);

  CHECK(d.reserve("r2", reservation("t1", {compute(100)}, 10, 20)).accepted());
  CHECK(d.reserve("r3", reservation("t1", {compute(40)}, 0, 10)).accepted());
  CHECK(d.reserve("r4", reservation("t1", {compute(1)}, 9, 11)).outcome == verdict::insufficient_capacity);
}

TEST_CASE("open-ended reservations hold capacity from their start on") {
  replica d;
  site(d);
  REQUIRE(d.reserve("open", reservation("t1", {compute(60)}, 10)).accepted());
  CHECK(!d.reserve("open", reservation("t1", {compute(60)}, 10)).body.contains("end"));
  CHECK(d.reserve("later", reservation("t1", {compute(50)}, 1000, 1010)).outcome ==
        verdict::insufficient_capacity);
  CHECK(d.reserve("before", reservation("t1", {compute(100)}, 0, 10)).accepted());
  CHECK(d.reserve("open2", reservation("t1", {compute(40)}, 20)).accepted());
  CHECK(d.reserve("open3", reservation("t1", {compute(1)}, 5000)).outcome == verdict::insufficient_capacity);
}

TEST_CASE("without start the earliest start within PLANNING_WINDOW stepping by PLANNING_INTERVAL") {
  replica d;
  site(d);
  REQUIRE(d.reserve("busy", reservation("t1", {compute(100)}, 0, 3)).accepted());
  d.time.now = at_hour(0);

  SECTION("with end: the window keeps the length end - now") {
    const auto dec = d.reserve("r", reservation("t1", {compute(10)}, -1, 1));
    REQUIRE(dec.accepted());
    CHECK(dec.start == at_hour(3));
    CHECK(dec.body["start"] == time_text(3));
    CHECK(dec.body["end"] == time_text(4));
    CHECK(d.accepted("r"));
  }
  SECTION("without end: open-ended from the first step that fits") {
    const auto dec = d.reserve("r", reservation("t1", {compute(10)}, -1));
    REQUIRE(dec.accepted());
    CHECK(dec.body["start"] == time_text(3));
    CHECK(!dec.body.contains("end"));
  }
  SECTION("a step of two hours skips the fitting instant at 3h and lands on 4h") {
    replica e("dc-a", domain::scheduler_settings::from_config(30, 2));
    site(e);
    REQUIRE(e.reserve("busy", reservation("t1", {compute(100)}, 0, 3)).accepted());
    e.time.now = at_hour(0);
    const auto dec = e.reserve("r", reservation("t1", {compute(10)}, -1, 1));
    REQUIRE(dec.accepted());
    CHECK(dec.start == at_hour(4));
  }
  SECTION("fits now: starts now") {
    const auto dec = d.reserve("r", reservation("t1", {compute(10)}, -1, 1));
    CHECK(dec.start == at_hour(3));
    d.time.now = at_hour(5);
    const auto now = d.reserve("r2", reservation("t1", {compute(10)}, -1, 6));
    CHECK(now.start == at_hour(5));
    CHECK(now.body["end"] == time_text(6));
  }
  SECTION("end not after now is refused") {
    const auto dec = d.reserve("r", reservation("t1", {compute(10)}, -1, 0));
    CHECK(dec.outcome == verdict::invalid);
    CHECK(dec.status == 422);
    CHECK(dec.field == "/end");
  }
}

TEST_CASE("without start nothing fits within the planning window") {
  replica d;
  site(d);
  // Busy for the whole 30 days plus one hour: the last candidate (720h) is refused.
  REQUIRE(d.reserve("busy", reservation("t1", {compute(100)}, 0, 30 * 24 + 1)).accepted());
  d.time.now = at_hour(0);
  const auto refused = d.reserve("r", reservation("t1", {compute(1)}, -1, 1));
  REQUIRE(refused.outcome == verdict::insufficient_capacity);
  CHECK(refused.status == 409);
  CHECK(refused.shortages[0].dim == dimension::cpu);
  CHECK(refused.message.find("PLANNING_WINDOW") != std::string::npos);

  SECTION("the last candidate, now + PLANNING_WINDOW, is included") {
    replica e;
    site(e);
    REQUIRE(e.reserve("busy", reservation("t1", {compute(100)}, 0, 30 * 24)).accepted());
    e.time.now = at_hour(0);
    const auto dec = e.reserve("r", reservation("t1", {compute(1)}, -1, 1));
    REQUIRE(dec.accepted());
    CHECK(dec.start == at_hour(30 * 24));
  }
  SECTION("open-ended: capacity held forever is never found") {
    replica e;
    site(e);
    REQUIRE(e.reserve("forever", reservation("t1", {compute(100)}, 100)).accepted());
    e.time.now = at_hour(0);
    CHECK(e.reserve("r", reservation("t1", {compute(1)}, -1)).outcome == verdict::insufficient_capacity);
    CHECK(e.reserve("short", reservation("t1", {compute(1)}, -1, 100)).accepted());
  }
}

TEST_CASE("maintenance removes capacity from the windows it overlaps") {
  replica d;
  site(d);
  d.put("maintenance/m", maintenance(0, 10, {"server/s1"}));
  const auto dec = d.reserve("r", reservation("t1", {compute(50)}, 5, 15));
  REQUIRE(dec.outcome == verdict::insufficient_capacity);
  CHECK(dec.shortages[0].short_by == 10);
  REQUIRE(!dec.holders.empty());
  CHECK(dec.holders[0].key == "maintenance/m");
  CHECK(dec.holders[0].amount == 60);
  CHECK(d.reserve("after", reservation("t1", {compute(100)}, 10, 20)).accepted());
  CHECK(d.reserve("during", reservation("t1", {compute(40)}, 0, 10)).accepted());

  SECTION("a disk under maintenance takes only its storage") {
    replica e;
    site(e);
    e.put("maintenance/disk", maintenance(0, 10, {"disk/d1"}));
    CHECK(e.reserve("cpu", reservation("t1", {compute(100)}, 0, 10)).accepted());
    const auto st = e.reserve("st", reservation("t1", {storage(4.5)}, 0, 10));
    REQUIRE(st.outcome == verdict::insufficient_capacity);
    CHECK(st.shortages[0].short_by == 500'000);
  }
}

TEST_CASE("overlapping maintenances on the same machine are not subtracted twice") {
  replica d;
  site(d);
  d.put("maintenance/a", maintenance(0, 10, {"server/s1"}));
  d.put("maintenance/b", maintenance(5, 15, {"server/s1", "disk/d1"}));
  d.put("maintenance/c", maintenance(7, 9, {"cabinet/c1"}));
  // [7, 9): the cabinet takes everything, s1 included once.
  const auto during_cabinet = d.reserve("x", reservation("t1", {compute(1)}, 6, 8));
  REQUIRE(during_cabinet.outcome == verdict::insufficient_capacity);
  CHECK(during_cabinet.shortages[0].available == 0);
  CHECK(d.reserve("r", reservation("t1", {compute(40)}, 9, 20)).accepted());
  const auto more = d.reserve("more", reservation("t1", {compute(1)}, 12, 13));
  REQUIRE(more.outcome == verdict::insufficient_capacity);
  CHECK(more.shortages[0].short_by == 1);
}

TEST_CASE("hsn_only reservations draw on the hsn pool and the total pool and others on the total pool") {
  replica d;
  site(d);
  SECTION("hsn pool is 60 cores") {
    const auto too_big = d.reserve("h", reservation("t1", {compute(61)}, 0, 10, true));
    REQUIRE(too_big.outcome == verdict::insufficient_capacity);
    CHECK(too_big.shortages[0].in == domain::pool::hsn);
    CHECK(too_big.shortages[0].short_by == 1);
    CHECK(too_big.message.find("hsn pool") != std::string::npos);
  }
  SECTION("hsn and normal reservations fill the total together") {
    REQUIRE(d.reserve("h", reservation("t1", {compute(60)}, 0, 10, true)).accepted());
    REQUIRE(d.reserve("n", reservation("t1", {compute(40)}, 0, 10)).accepted());
    const auto one_more = d.reserve("n2", reservation("t1", {compute(1)}, 0, 10));
    REQUIRE(one_more.outcome == verdict::insufficient_capacity);
    CHECK(one_more.shortages[0].in == domain::pool::total);
  }
  SECTION("normal reservations leave the hsn pool free but not the total") {
    REQUIRE(d.reserve("n", reservation("t1", {compute(90)}, 0, 10)).accepted());
    const auto h = d.reserve("h", reservation("t1", {compute(20)}, 0, 10, true));
    REQUIRE(h.outcome == verdict::insufficient_capacity);
    CHECK(h.shortages[0].in == domain::pool::total);
    CHECK(h.shortages[0].short_by == 10);
    CHECK(d.reserve("h2", reservation("t1", {compute(10)}, 0, 10, true)).accepted());
  }
  SECTION("hsn storage is the storage of hsn machines") {
    CHECK(d.reserve("hs", reservation("t1", {storage(6)}, 0, 10, true)).accepted());
    CHECK(d.reserve("hs2", reservation("t1", {storage(0.5)}, 0, 10, true)).outcome ==
          verdict::insufficient_capacity);
  }
}

TEST_CASE("tenant constraints bound what the tenant holds at any instant per dimension") {
  struct row {
    const char* name;
    json exact;
    json over;
    dimension dim;
    domain::quantity limit;
    domain::quantity asked;
  };
  const std::vector<row> table{
      {"cpu", {compute(50)}, {compute(51)}, dimension::cpu, 50, 51},
      {"ram_gb", {compute(1, 500)}, {compute(1, 501)}, dimension::ram_gb, 500, 501},
      {"accelerators", {compute(1, 0, true, 2)}, {compute(1, 0, true, 3)}, dimension::accelerators, 2, 3},
      {"block_tb", {storage(5)}, {storage(5.5)}, dimension::block_tb, 5'000'000, 5'500'000},
      {"object_tb",
       {storage(10, "object")},
       {storage(10.25, "object")},
       dimension::object_tb,
       10'000'000,
       10'250'000},
  };
  for (const auto& r : table) {
    DYNAMIC_SECTION(r.name) {
      replica d;
      site(d);
      const auto over = d.reserve("over", reservation("t2", r.over, 0, 10));
      REQUIRE(over.outcome == verdict::constraint_exceeded);
      CHECK(over.status == 409);
      CHECK(over.code == "constraint_exceeded");
      REQUIRE(over.breach);
      CHECK(over.breach->dim == r.dim);
      CHECK(over.breach->limit == r.limit);
      CHECK(over.breach->asked == r.asked);
      const std::string name(domain::name_of(r.dim));
      CHECK(over.message.find(name + " limit " + domain::format_quantity(r.dim, r.limit)) !=
            std::string::npos);
      CHECK(over.message.find("asked " + domain::format_quantity(r.dim, r.asked)) != std::string::npos);
      CHECK(d.reserve("exact", reservation("t2", r.exact, 0, 10)).accepted());
      // Another tenant is not bound by t2's limits.
      CHECK(d.reserve("other", reservation("t1", r.over, 10, 20)).accepted());
    }
  }
  SECTION("concurrent holdings count; touching windows do not") {
    replica d;
    site(d);
    REQUIRE(d.reserve("a", reservation("t2", {compute(30)}, 0, 10)).accepted());
    const auto b = d.reserve("b", reservation("t2", {compute(30)}, 5, 15));
    REQUIRE(b.outcome == verdict::constraint_exceeded);
    CHECK(b.breach->held == 30);
    CHECK(d.reserve("c", reservation("t2", {compute(30)}, 10, 20)).accepted());
    CHECK(d.reserve("d", reservation("t2", {compute(20)}, 5, 15)).accepted());
  }
  SECTION("limits are checked before capacity") {
    replica d;
    site(d);
    CHECK(d.reserve("x", reservation("t2", {compute(500)}, 0, 10)).outcome == verdict::constraint_exceeded);
  }
}

TEST_CASE("replacing a reservation excludes its own old claim and cancelling frees it") {
  replica d;
  site(d);
  REQUIRE(d.reserve("r", reservation("t1", {compute(100)}, 0, 10)).accepted());
  CHECK(d.reserve("r", reservation("t1", {compute(100)}, 0, 10)).accepted());
  CHECK(d.reserve("r", reservation("t1", {compute(100)}, 5, 15)).accepted());
  const auto bigger = d.reserve("r", reservation("t1", {compute(101)}, 5, 15));
  REQUIRE(bigger.outcome == verdict::insufficient_capacity);
  CHECK(bigger.shortages[0].short_by == 1);  // not 101: its own 100 are not counted
  CHECK(d.accepted("r"));                    // the refused replace changed nothing
  CHECK(d.reserve("r", reservation("t1", {compute(100)}, 5, 15), domain::write_mode::patch).accepted());
  CHECK(d.reserve("other", reservation("t1", {compute(1)}, 5, 6)).outcome == verdict::insufficient_capacity);
  d.remove("reservation/r");
  CHECK(!d.scheduler->status_of("r"));
  CHECK(d.reserve("other", reservation("t1", {compute(100)}, 5, 6)).accepted());
}

TEST_CASE("the decision is the status the stored reservation then shows") {
  replica d;
  site(d);
  for (int i = 0; i < 30; ++i) {
    const auto dec = d.reserve(
        "r" + std::to_string(i % 7),
        reservation(i % 2 ? "t1" : "t2", {compute(7 + i % 13, 10 * (i % 5))}, i % 9, i % 9 + 1 + i % 4));
    auto s = d.scheduler->status_of("r" + std::to_string(i % 7));
    if (dec.accepted()) {
      REQUIRE(s);
      CHECK(s->accepted);
    }
  }
  CHECK(d.scheduler->conflicted_count() == 0);
}

TEST_CASE("a refusal names at most ten holders largest first and counts the rest") {
  replica d;
  site(d);
  for (int i = 0; i < 12; ++i)
    REQUIRE(
        d.reserve("h" + std::to_string(i), reservation(i % 2 ? "t1" : "t2", {compute(4)}, 0, 10)).accepted());
  // At [2, 3): 40 cores under maintenance, 48 held by the twelve, 12 left.
  d.put("maintenance/m", maintenance(2, 3, {"server/s2"}));
  const auto dec = d.reserve("x", reservation("t1", {compute(20)}, 0, 10));
  REQUIRE(dec.outcome == verdict::insufficient_capacity);
  CHECK(dec.shortages[0].short_by == 8);
  CHECK(dec.worst_at == at_hour(2));
  REQUIRE(dec.holders.size() == domain::decision::max_holders);
  CHECK(dec.holders[0].key == "maintenance/m");
  CHECK(dec.holders[0].amount == 40);
  // Then the reservations, 4 each, by key.
  CHECK(dec.holders[1].key == "reservation/h0");
  CHECK(dec.holders[2].key == "reservation/h1");
  CHECK(dec.holders[3].key == "reservation/h10");
  CHECK(dec.holders[9].key == "reservation/h6");
  CHECK(dec.holders[9].tenant == "t2");
  CHECK(dec.message.find("and 3 more") != std::string::npos);
  const json details = dec.details();
  CHECK(details["shortages"][0] ==
        json{{"dimension", "cpu"}, {"pool", "total"}, {"asked", 20}, {"available", 12}, {"short", 8}});
  CHECK(details["at"] == time_text(2));
  CHECK(details["holders"].size() == domain::decision::max_holders);
}
