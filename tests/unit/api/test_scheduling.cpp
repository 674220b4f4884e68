// The scheduling routes and reservation writes through the HTTP contract
// (API.md "Views", "Scheduling", "Access"), with the real scheduler wired
// like the daemon wires it (fixture(with_scheduler)).
#include <set>

#include "fixture.hpp"
#include "horao/api/openapi.hpp"
#include "horao/domain/schema.hpp"

using namespace horao;
using namespace horao::api::test;
using horao::api::response;

namespace {

constexpr std::int64_t hour_us = 3'600'000'000LL;
constexpr std::int64_t t0 = 1'796'083'200'000'000LL;  // 2026-12-01T00:00:00Z

std::string at(double h) {
  return domain::canonical_time(t0 + static_cast<std::int64_t>(h * static_cast<double>(hour_us)));
}

json compute(int cpu, int ram_gb = 0, bool accelerator = false, int amount = 1) {
  return {{"type", "compute"},
          {"cpu", cpu},
          {"ram_gb", ram_gb},
          {"accelerator", accelerator},
          {"amount", amount}};
}

json storage(double tb, std::string_view type = "block") {
  return {{"type", "storage"}, {"capacity_tb", tb}, {"storage_type", type}, {"storage_class", "hot"}};
}

// from_h < 0 leaves `start` out, to_h < 0 leaves `end` out.
json reservation(std::string_view tenant, json resources, double from_h, double to_h = -1,
                 bool hsn_only = false) {
  json r = {{"tenant", tenant}, {"resources", std::move(resources)}, {"hsn_only", hsn_only}};
  if (from_h >= 0) r["start"] = at(from_h);
  if (to_h >= 0) r["end"] = at(to_h);
  return r;
}

json maintenance(double from_h, double to_h, std::vector<std::string> targets) {
  return {{"start", at(from_h)}, {"end", at(to_h)}, {"reason", "firmware"}, {"targets", std::move(targets)}};
}

json machine(std::string_view cabinet, int cores, int ram_gb, int accelerators,
             std::vector<std::string> networks) {
  json m = {{"cabinet", cabinet},
            {"cpus", json::array({{{"cores", cores}, {"model", "EPYC"}, {"clock_ghz", 3.0}}})},
            {"ram", json::array({{{"size_gb", ram_gb}}})},
            {"accelerators", json::array()}};
  for (int i = 0; i < accelerators; ++i) m["accelerators"].push_back({{"model", "H100"}});
  if (!networks.empty()) m["networks"] = std::move(networks);
  return m;
}


const options& admin = as_admin;
const options& reader = as_reader;

// Capacity of dc1: cpu 100, ram_gb 1000, accelerators 4, block 10 TB, object 20 TB.
// s1 (60 cores, 600 GB, 2 accelerators, 6 TB block) is on the hsn fabric: the hsn
// pool is cpu 60, ram_gb 600, accelerators 2, block 6 TB, object 0.
// t1 has no limits; t2 may hold cpu 50, ram_gb 500, accelerators 2, block 5 TB, object 10 TB.
struct site : fixture {
  explicit site(std::function<void(api::router_context&)> customise = {})
      : fixture(with_scheduler, std::move(customise)) {
    time.now = t0;
    const options o = config_admin();
    const auto must = [&](const std::string& target, const json& body) {
      const auto r = put(target, body, o);
      INFO(target << " " << r.body);
      REQUIRE(r.status == 201);
    };
    must("/v1/datacenters/dc1", {{"name", "Amsterdam"}, {"number", 1}});
    must("/v1/cabinets/cab1", {{"datacenter", "dc1"}, {"row", 1}, {"position", 1}});
    must("/v1/networks/fabric", {{"datacenter", "dc1"}, {"network_type", "data"}, {"hsn", true}});
    must("/v1/servers/s1", machine("cab1", 60, 600, 2, {"fabric"}));
    must("/v1/servers/s2", machine("cab1", 40, 400, 2, {}));
    must("/v1/disks/d1", {{"machine", "server/s1"}, {"capacity_tb", 6}});
    must("/v1/disks/d2", {{"machine", "server/s2"}, {"capacity_tb", 4}});
    must("/v1/disks/d3", {{"machine", "server/s2"}, {"capacity_tb", 20}, {"storage_type", "object"}});
    must("/v1/tenants/t1", {{"owner", "alice"}});
    must("/v1/tenants/t2",
         {{"owner", "bob"},
          {"constraints",
           {{"cpu", 50}, {"ram_gb", 500}, {"accelerators", 2}, {"block_tb", 5}, {"object_tb", 10}}}});
  }

  // Admin when the site has tokens, nothing when it is open.
  options config_admin() const { return router->context().tokens ? admin : options{}; }

  response reserve(const std::string& id, const json& body, options o = {}) {
    return put("/v1/reservations/" + id, body, std::move(o));
  }
  response patch(const std::string& target, const json& body, options o = {}) {
    return call("PATCH", target, body.dump(), std::move(o));
  }
  std::string status_of(const std::string& id) {
    return body_of(get("/v1/reservations/" + id, config_admin()))["status"];
  }
};

struct secured_site : site {
  secured_site() : site([](api::router_context& ctx) { ctx.tokens = role_tokens(); }) {}
};

json capacity(double cpu, double ram, double acc, double block, double object) {
  return {{"cpu", cpu}, {"ram_gb", ram}, {"accelerators", acc}, {"block_tb", block}, {"object_tb", object}};
}

json error_of(const response& r) {
  INFO(r.body);
  return json::parse(r.body).at("error");
}

}  // namespace

TEST_CASE("capacity view: totals per datacenter hsn_only and at") {
  site f;
  CHECK(body_of(f.get("/v1/capacity")) == capacity(100, 1000, 4, 10, 20));
  CHECK(body_of(f.get("/v1/capacity?hsn_only=true")) == capacity(60, 600, 2, 6, 0));
  CHECK(body_of(f.get("/v1/capacity?hsn_only=false")) == capacity(100, 1000, 4, 10, 20));
  CHECK(body_of(f.get("/v1/capacity?datacenter=dc1")) == capacity(100, 1000, 4, 10, 20));

  // A second datacenter counts in the total and on its own.
  REQUIRE(f.put("/v1/datacenters/dc2", {{"name", "Paris"}, {"number", 2}}).status == 201);
  REQUIRE(f.put("/v1/cabinets/cab2", {{"datacenter", "dc2"}, {"row", 1}, {"position", 1}}).status == 201);
  REQUIRE(f.put("/v1/servers/s3", machine("cab2", 8, 64, 0, {})).status == 201);
  CHECK(body_of(f.get("/v1/capacity")) == capacity(108, 1064, 4, 10, 20));
  CHECK(body_of(f.get("/v1/capacity?datacenter=dc2")) == capacity(8, 64, 0, 0, 0));
  CHECK(body_of(f.get("/v1/capacity?datacenter=dc2&hsn_only=true")) == capacity(0, 0, 0, 0, 0));

  // Maintenance is subtracted only at `at`; reservations never are.
  REQUIRE(f.put("/v1/maintenances/m1", maintenance(10, 20, {"server/s2"})).status == 201);
  REQUIRE(f.reserve("r1", reservation("t1", {compute(50)}, 0, 100)).status == 201);
  CHECK(body_of(f.get("/v1/capacity")) == capacity(108, 1064, 4, 10, 20));
  CHECK(body_of(f.get("/v1/capacity?at=" + at(9.5))) == capacity(108, 1064, 4, 10, 20));
  CHECK(body_of(f.get("/v1/capacity?at=" + at(10))) == capacity(68, 664, 2, 6, 0));
  CHECK(body_of(f.get("/v1/capacity?datacenter=dc1&at=" + at(19))) == capacity(60, 600, 2, 6, 0));
  CHECK(body_of(f.get("/v1/capacity?at=" + at(20))) == capacity(108, 1064, 4, 10, 20));
  // A time with an offset is the same instant.
  CHECK(body_of(f.get("/v1/capacity?at=2026-12-01T11:00:00+01:00")) == capacity(68, 664, 2, 6, 0));

  // Down hardware does not count.
  REQUIRE(f.patch("/v1/servers/s3", {{"status", "down"}}).status == 200);
  CHECK(body_of(f.get("/v1/capacity?datacenter=dc2")) == capacity(0, 0, 0, 0, 0));
}

TEST_CASE("capacity view: bad query parameters are 400 and an unknown datacenter is 404") {
  site f;
  for (const char* target :
       {"/v1/capacity?hsn_only=yes", "/v1/capacity?hsn_only=", "/v1/capacity?at=tomorrow",
        "/v1/capacity?at=2026-13-01T00:00:00Z", "/v1/capacity?datacenter=-bad", "/v1/capacity?limit=3",
        "/v1/capacity?at=" /* empty */, "/v1/tenants/t1/usage?at=noon", "/v1/tenants/t1/usage?datacenter=dc1",
        "/v1/maintenances/m1/impact?at=2026-12-01T00:00:00Z", "/v1/capacity?hsn_only=true&hsn_only=false"}) {
    INFO(target);
    const auto r = f.get(target);
    CHECK(r.status == 400);
    CHECK(error_code(r) == "bad_query");
    CHECK(error_of(r).contains("message"));
  }
  const auto r = f.get("/v1/capacity?datacenter=nowhere");
  CHECK(r.status == 404);
  CHECK(error_code(r) == "not_found");
  CHECK(error_of(r)["message"].get<std::string>().find("datacenter/nowhere") != std::string::npos);
}

TEST_CASE("reservations that fit or exactly fit or are one unit short in each dimension") {
  struct row {
    const char* name;
    json resources;
    bool hsn_only;
    const char* short_dimension;  // nullptr: accepted
    json short_by;
    const char* pool;
  };
  const std::vector<row> table{
      {"fits", {compute(50, 500)}, false, nullptr, nullptr, ""},
      {"exactly fits every dimension",
       {compute(25, 250, true, 4), storage(10), storage(20, "object")},
       false,
       nullptr,
       nullptr,
       ""},
      {"cpu one short", {compute(101)}, false, "cpu", 1, "total"},
      {"cpu one short through amount", {compute(1, 0, false, 101)}, false, "cpu", 1, "total"},
      {"ram one short", {compute(1, 1001)}, false, "ram_gb", 1, "total"},
      {"accelerators one short", {compute(1, 0, true, 5)}, false, "accelerators", 1, "total"},
      {"block storage one unit short", {storage(10.000001)}, false, "block_tb", 0.000001, "total"},
      {"object storage one unit short",
       {storage(20.000001, "object")},
       false,
       "object_tb",
       0.000001,
       "total"},
      {"hsn exactly fits", {compute(30, 300, true, 2), storage(6)}, true, nullptr, nullptr, ""},
      {"hsn cpu one short", {compute(61)}, true, "cpu", 1, "hsn"},
      {"hsn ram one short", {compute(1, 601)}, true, "ram_gb", 1, "hsn"},
      {"hsn accelerators one short", {compute(1, 0, true, 3)}, true, "accelerators", 1, "hsn"},
      {"hsn block one unit short", {storage(6.000001)}, true, "block_tb", 0.000001, "hsn"},
      {"hsn has no object storage", {storage(0.000001, "object")}, true, "object_tb", 0.000001, "hsn"},
  };
  for (const auto& r : table) {
    DYNAMIC_SECTION(r.name) {
      site f;
      const auto mark = f.mark();
      const auto answer = f.reserve("r", reservation("t1", r.resources, 0, 10, r.hsn_only));
      INFO(answer.body);
      if (!r.short_dimension) {
        REQUIRE(answer.status == 201);
        const auto j = body_of(answer);
        CHECK(j["status"] == "accepted");
        CHECK(j["start"] == at(0));
        CHECK(j["end"] == at(10));
        CHECK(header(answer, "Location") == "/v1/reservations/r");
        continue;
      }
      REQUIRE(answer.status == 409);
      const json e = error_of(answer);
      CHECK(e["code"] == "insufficient_capacity");
      const std::string message = e["message"];
      CHECK(message.find(std::string(r.short_dimension) + " short by") != std::string::npos);
      REQUIRE(e["details"]["shortages"].size() == 1);
      const json& s = e["details"]["shortages"][0];
      CHECK(s["dimension"] == r.short_dimension);
      CHECK(s["short"] == r.short_by);
      CHECK(s["pool"] == r.pool);
      CHECK(e["details"]["at"] == at(0));
      CHECK(f.mark() == mark);  // nothing written
      CHECK(f.get("/v1/reservations/r").status == 404);
    }
  }
}

TEST_CASE("overlapping windows share capacity and touching half-open windows do not") {
  site f;
  REQUIRE(f.reserve("r0", reservation("t1", {compute(60)}, 0, 10)).status == 201);
  const auto overlapping = f.reserve("r1", reservation("t1", {compute(50)}, 5, 15));
  REQUIRE(overlapping.status == 409);
  const json e = error_of(overlapping);
  CHECK(e["code"] == "insufficient_capacity");
  CHECK(e["details"]["shortages"][0] ==
        json{{"dimension", "cpu"}, {"pool", "total"}, {"asked", 50}, {"available", 40}, {"short", 10}});
  CHECK(e["details"]["at"] == at(5));
  REQUIRE(e["details"]["holders"].size() == 1);
  CHECK(e["details"]["holders"][0] == json{{"key", "reservation/r0"}, {"tenant", "t1"}, {"amount", 60}});
  CHECK(e["message"].get<std::string>().find("reservation/r0") != std::string::npos);

  CHECK(f.reserve("r2", reservation("t1", {compute(100)}, 10, 20)).status == 201);  // touches r0's end
  CHECK(f.reserve("r3", reservation("t1", {compute(40)}, 0, 10)).status == 201);    // exactly what r0 left
  CHECK(f.reserve("r4", reservation("t1", {compute(1)}, 9, 11)).status == 409);
  CHECK(f.reserve("r5", reservation("t1", {compute(1)}, 20, 21)).status == 201);
}

TEST_CASE("open-ended reservations hold capacity from their start on") {
  site f;
  auto r = f.reserve("open", reservation("t1", {compute(60)}, 10));
  REQUIRE(r.status == 201);
  CHECK_FALSE(body_of(r).contains("end"));
  CHECK(f.reserve("before", reservation("t1", {compute(100)}, 0, 10)).status == 201);
  CHECK(f.reserve("years-later", reservation("t1", {compute(41)}, 10'000, 10'010)).status == 409);
  CHECK(f.reserve("fits-beside", reservation("t1", {compute(40)}, 10'000, 10'010)).status == 201);
  const auto also_open = f.reserve("also-open", reservation("t1", {compute(1)}, 5));
  REQUIRE(also_open.status == 409);
  CHECK(error_of(also_open)["message"].get<std::string>().find("open end") != std::string::npos);
}

TEST_CASE("without start the earliest fitting start is chosen or 409 when there is none") {
  site f;
  REQUIRE(f.reserve("busy", reservation("t1", {compute(100)}, 0, 10)).status == 201);
  // Now is hour 0; the window keeps the length end - now = 2 h.
  auto r = f.reserve("dyn", reservation("t1", {compute(10)}, -1, 2));
  REQUIRE(r.status == 201);
  auto j = body_of(r);
  CHECK(j["start"] == at(10));
  CHECK(j["end"] == at(12));
  CHECK(j["status"] == "accepted");
  // Open-ended without start: from the first hour with 100 free for ever.
  r = f.reserve("dyn-open", reservation("t1", {compute(100)}, -1));
  REQUIRE(r.status == 201);
  j = body_of(r);
  CHECK(j["start"] == at(12));
  CHECK_FALSE(j.contains("end"));

  // 90 is free in [10, 12) and nothing from 12 on: 91 has no start within PLANNING_WINDOW.
  const auto mark = f.mark();
  r = f.reserve("none", reservation("t1", {compute(91)}, -1, 1));
  REQUIRE(r.status == 409);
  CHECK(error_code(r) == "insufficient_capacity");
  CHECK(error_of(r)["message"].get<std::string>().find("no start") != std::string::npos);
  CHECK(f.mark() == mark);
  // An end in the past cannot keep a length.
  r = f.reserve("past", reservation("t1", {compute(1)}, -1, 0));
  CHECK(r.status == 422);
  CHECK(error_field(r) == "/end");
}

TEST_CASE("the planning window and interval bound the search for a start") {
  site f;
  REQUIRE(f.reserve("busy", reservation("t1", {compute(100)}, 0, 24 * 30 + 1)).status == 201);
  // Free from hour 721 on: one step beyond the 30-day window of 721 hourly starts.
  CHECK(f.reserve("late", reservation("t1", {compute(1)}, -1)).status == 409);
  REQUIRE(f.call("DELETE", "/v1/reservations/busy").status == 204);
  REQUIRE(f.reserve("busy", reservation("t1", {compute(100)}, 0, 24 * 30)).status == 201);
  const auto r = f.reserve("late", reservation("t1", {compute(1)}, -1));
  REQUIRE(r.status == 201);
  CHECK(body_of(r)["start"] == at(24 * 30));
}

TEST_CASE("maintenance removes capacity during its window only") {
  site f;
  REQUIRE(f.put("/v1/maintenances/m1", maintenance(0, 10, {"server/s1"})).status == 201);
  auto r = f.reserve("r1", reservation("t1", {compute(41)}, 5, 6));
  REQUIRE(r.status == 409);
  const json e = error_of(r);
  CHECK(e["details"]["shortages"][0]["short"] == 1);
  CHECK(e["details"]["holders"][0] == json{{"key", "maintenance/m1"}, {"amount", 60}});
  CHECK(e["message"].get<std::string>().find("maintenance/m1") != std::string::npos);
  CHECK(f.reserve("r1", reservation("t1", {compute(40)}, 5, 6)).status == 201);
  CHECK(f.reserve("r2", reservation("t1", {compute(100)}, 10, 11)).status == 201);
  // The cabinet takes everything inside it.
  REQUIRE(f.put("/v1/maintenances/m2", maintenance(20, 30, {"cabinet/cab1"})).status == 201);
  r = f.reserve("r3", reservation("t1", {storage(0.000001, "object")}, 29, 31));
  REQUIRE(r.status == 409);
  CHECK(error_of(r)["details"]["shortages"][0]["dimension"] == "object_tb");
  // Ending the maintenance gives the capacity back.
  REQUIRE(f.call("DELETE", "/v1/maintenances/m2").status == 204);
  CHECK(f.reserve("r3", reservation("t1", {storage(0.000001, "object")}, 29, 31)).status == 201);
}

TEST_CASE("replace and cancel: a PUT does not count its own old claim and DELETE frees it") {
  site f;
  REQUIRE(f.reserve("r1", reservation("t1", {compute(100)}, 0, 10)).status == 201);
  CHECK(f.reserve("r2", reservation("t1", {compute(50)}, 0, 10)).status == 409);
  // Replacing r1 with all of the capacity again fits: its old claim is lifted.
  auto r = f.reserve("r1", reservation("t1", {compute(100), storage(10)}, 0, 10));
  REQUIRE(r.status == 200);
  CHECK(body_of(r)["status"] == "accepted");
  // Replacing it with half leaves half.
  REQUIRE(f.reserve("r1", reservation("t1", {compute(50)}, 0, 10)).status == 200);
  CHECK(f.reserve("r2", reservation("t1", {compute(50)}, 0, 10)).status == 201);
  // A replace that no longer fits is refused and changes nothing.
  const auto mark = f.mark();
  r = f.reserve("r1", reservation("t1", {compute(51)}, 0, 10));
  REQUIRE(r.status == 409);
  CHECK(error_code(r) == "insufficient_capacity");
  CHECK(f.mark() == mark);
  CHECK(body_of(f.get("/v1/reservations/r1"))["resources"][0]["cpu"] == 50);
  // A PATCH is decided too: growing r2 into r1's half is refused...
  r = f.patch("/v1/reservations/r2", {{"resources", {compute(51)}}});
  REQUIRE(r.status == 409);
  CHECK(f.mark() == mark);
  // ...moving it to a free window is fine.
  r = f.patch("/v1/reservations/r2", {{"start", at(10)}, {"end", at(20)}, {"resources", {compute(100)}}});
  REQUIRE(r.status == 200);
  CHECK(body_of(r)["start"] == at(10));
  // Cancelling frees the capacity.
  CHECK(f.reserve("r3", reservation("t1", {compute(100)}, 15, 16)).status == 409);
  REQUIRE(f.call("DELETE", "/v1/reservations/r2").status == 204);
  CHECK(f.reserve("r3", reservation("t1", {compute(100)}, 15, 16)).status == 201);
}

TEST_CASE("constraint_exceeded names the dimension the limit the amount asked and what is held") {
  site f;
  struct row {
    const char* name;
    json resources;
    const char* dimension;
    json limit;
    json asked;
  };
  const std::vector<row> table{
      {"cpu", {compute(51)}, "cpu", 50, 51},
      {"ram", {compute(1, 501)}, "ram_gb", 500, 501},
      {"accelerators", {compute(1, 0, true, 3)}, "accelerators", 2, 3},
      {"block storage", {storage(5.000001)}, "block_tb", 5.0, 5.000001},
      {"object storage", {storage(10.5, "object")}, "object_tb", 10.0, 10.5},
  };
  for (const auto& r : table) {
    DYNAMIC_SECTION(r.name) {
      const auto mark = f.mark();
      const auto answer = f.reserve("big", reservation("t2", r.resources, 0, 10));
      REQUIRE(answer.status == 409);
      const json e = error_of(answer);
      CHECK(e["code"] == "constraint_exceeded");
      CHECK(e["details"] ==
            json{{"dimension", r.dimension}, {"limit", r.limit}, {"asked", r.asked}, {"held", 0}});
      const std::string message = e["message"];
      CHECK(message.find(std::string(r.dimension) + " limit") != std::string::npos);
      CHECK(message.find("asked") != std::string::npos);
      CHECK(f.mark() == mark);
    }
  }
  SECTION("exactly at the limit fits and what is already held counts") {
    REQUIRE(f.reserve("a", reservation("t2", {compute(30)}, 0, 10)).status == 201);
    REQUIRE(f.reserve("b", reservation("t2", {compute(20)}, 5, 15)).status == 201);  // 50 held at hour 5
    const auto answer = f.reserve("c", reservation("t2", {compute(1)}, 9, 20));
    REQUIRE(answer.status == 409);
    const json e = error_of(answer);
    CHECK(e["code"] == "constraint_exceeded");
    CHECK(e["details"] == json{{"dimension", "cpu"}, {"limit", 50}, {"asked", 1}, {"held", 50}});
    CHECK(e["message"].get<std::string>().find("limit 50") != std::string::npos);
    CHECK(f.reserve("c", reservation("t2", {compute(30)}, 10, 20)).status == 201);  // a ended
    // Constraints are checked before capacity: over both, the limit is named.
    CHECK(error_code(f.reserve("d", reservation("t2", {compute(500)}, 0, 1))) == "constraint_exceeded");
  }
}

TEST_CASE("a maintenance written over accepted reservations makes the newest that no longer fit conflicted") {
  site f;
  REQUIRE(f.reserve("old", reservation("t1", {compute(50)}, 0, 10)).status == 201);
  REQUIRE(f.reserve("new", reservation("t2", {compute(40)}, 0, 10)).status == 201);
  CHECK(f.status_of("new") == "accepted");
  REQUIRE(f.put("/v1/maintenances/m1", maintenance(5, 6, {"server/s2"})).status == 201);
  CHECK(f.status_of("old") == "accepted");
  const json j = body_of(f.get("/v1/reservations/new"));
  CHECK(j["status"] == "conflicted");
  CHECK(j["conflict"] == "insufficient_capacity: cpu short by 30");
  const auto listed = body_of(f.get("/v1/reservations?status=conflicted"))["items"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["id"] == "new");
  // Usage counts accepted reservations only.
  CHECK(body_of(f.get("/v1/tenants/t2/usage?at=" + at(1)))["usage"]["cpu"] == 0);
  // Cancelling the maintenance lets it back in.
  REQUIRE(f.call("DELETE", "/v1/maintenances/m1").status == 204);
  CHECK(f.status_of("new") == "accepted");
}

TEST_CASE("impact of a stored maintenance and of a dry run") {
  site f;
  REQUIRE(f.reserve("a", reservation("t1", {compute(50), storage(2)}, 0, 10)).status == 201);
  REQUIRE(f.reserve("b", reservation("t2", {compute(40), storage(5)}, 0, 10)).status == 201);
  REQUIRE(f.reserve("c", reservation("t2", {compute(10)}, 20, 30)).status == 201);

  const json expected = {
      {"reservations", {{{"id", "b"}, {"tenant", "t2"}, {"short", {{"cpu", 30}, {"block_tb", 1.0}}}}}},
      {"tenants", {"t2"}}};
  // The dry run: nothing is created, the statuses are unchanged.
  const auto mark = f.mark();
  auto r = f.call("POST", "/v1/impact", maintenance(5, 6, {"server/s2"}).dump());
  REQUIRE(r.status == 200);
  CHECK(body_of(r) == expected);
  CHECK(f.mark() == mark);
  CHECK(f.status_of("b") == "accepted");
  // A window that meets nothing impacts nothing.
  r = f.call("POST", "/v1/impact", maintenance(40, 50, {"datacenter/dc1"}).dump());
  CHECK(body_of(r) == json{{"reservations", json::array()}, {"tenants", json::array()}});

  // The same window stored: the same report, and now b shows conflicted.
  REQUIRE(f.put("/v1/maintenances/m1", maintenance(5, 6, {"server/s2"})).status == 201);
  CHECK(body_of(f.get("/v1/maintenances/m1/impact")) == expected);
  CHECK(f.status_of("b") == "conflicted");
  // A maintenance on the whole datacenter takes a, b and c's windows alike
  // where they meet it; b is already conflicted by m1, so only a is listed.
  r = f.call("POST", "/v1/impact", maintenance(0, 25, {"datacenter/dc1"}).dump());
  REQUIRE(r.status == 200);
  const json whole = body_of(r);
  REQUIRE(whole["reservations"].size() == 2);
  CHECK(whole["reservations"][0]["id"] == "a");
  CHECK(whole["reservations"][0]["short"] == json{{"cpu", 50}, {"block_tb", 2.0}});
  CHECK(whole["reservations"][1]["id"] == "c");
  CHECK(whole["tenants"] == json{"t1", "t2"});

  // A maintenance read back can be posted as is.
  r = f.call("POST", "/v1/impact", f.get("/v1/maintenances/m1").body);
  CHECK(r.status == 200);
}

TEST_CASE("impact refusals: unknown maintenance and bad dry-run bodies") {
  site f;
  const auto mark = f.mark();
  auto r = f.get("/v1/maintenances/nope/impact");
  CHECK(r.status == 404);
  CHECK(error_code(r) == "not_found");
  CHECK(f.get("/v1/maintenances/-x/impact").status == 400);
  r = f.call("POST", "/v1/impact", "{not json");
  CHECK(r.status == 400);
  CHECK(error_code(r) == "bad_json");
  CHECK(error_code(f.call("POST", "/v1/impact", "[]")) == "bad_json");
  r = f.call("POST", "/v1/impact", maintenance(5, 6, {"server/s2"}).dump(), {.content_type = "text/plain"});
  CHECK(r.status == 415);
  r = f.call("POST", "/v1/impact",
             json{{"start", at(5)}, {"end", at(4)}, {"reason", "x"}, {"targets", {"server/s2"}}}.dump());
  CHECK(r.status == 422);
  r = f.call("POST", "/v1/impact", maintenance(5, 6, {"server/ghost"}).dump());
  CHECK(r.status == 422);
  CHECK(error_field(r) == "/targets/0");
  r = f.call("POST", "/v1/impact", json{{"start", at(5)}, {"end", at(6)}, {"reason", "x"}}.dump());
  CHECK(r.status == 422);
  CHECK(error_field(r) == "/targets");
  r = f.call("POST", "/v1/impact",
             json{{"start", at(5)}, {"end", at(6)}, {"reason", "x"}, {"targets", {"server/s2"}}, {"typo", 1}}
                 .dump());
  CHECK(r.status == 422);
  CHECK(f.mark() == mark);
  // Wrong method: 405 with Allow.
  r = f.call("GET", "/v1/impact");
  CHECK(r.status == 405);
  CHECK(header(r, "Allow") == "POST");
  CHECK(f.call("POST", "/v1/capacity", "{}").status == 405);
}

TEST_CASE("usage: what accepted reservations hold at an instant next to the constraints") {
  site f;
  REQUIRE(f.reserve("a", reservation("t2", {compute(30, 100, true, 1), storage(2)}, 0, 10)).status == 201);
  REQUIRE(f.reserve("b", reservation("t2", {compute(10), storage(1, "object")}, 5, 15)).status == 201);
  REQUIRE(f.reserve("c", reservation("t1", {compute(5)}, 0, 20)).status == 201);

  auto j = body_of(f.get("/v1/tenants/t2/usage?at=" + at(6)));
  CHECK(j["tenant"] == "t2");
  CHECK(j["at"] == at(6));
  CHECK(j["usage"] == capacity(40, 100, 1, 2, 1));
  CHECK(j["reservations"] == json{"a", "b"});
  CHECK(j["constraints"] ==
        json{{"cpu", 50}, {"ram_gb", 500}, {"accelerators", 2}, {"block_tb", 5.0}, {"object_tb", 10.0}});
  // Half-open: a has ended at hour 10.
  j = body_of(f.get("/v1/tenants/t2/usage?at=" + at(10)));
  CHECK(j["usage"] == capacity(10, 0, 0, 0, 1));
  CHECK(j["reservations"] == json{"b"});
  // Default: now (hour 0).
  j = body_of(f.get("/v1/tenants/t2/usage"));
  CHECK(j["at"] == at(0));
  CHECK(j["usage"]["cpu"] == 30);
  // A tenant without limits shows no constraints.
  j = body_of(f.get("/v1/tenants/t1/usage?at=" + at(19)));
  CHECK(j["constraints"] == json::object());
  CHECK(j["usage"]["cpu"] == 5);

  auto r = f.get("/v1/tenants/ghost/usage");
  CHECK(r.status == 404);
  CHECK(error_code(r) == "not_found");
  CHECK(f.get("/v1/tenants/t1/usage?at=yesterday").status == 400);
  CHECK(f.get("/v1/servers/s1/usage").status == 404);  // no such view
}

TEST_CASE("roles on every scheduling route") {
  secured_site f;
  REQUIRE(f.reserve("r1", reservation("t1", {compute(60)}, 0, 10), admin).status == 201);
  REQUIRE(f.reserve("r2", reservation("t2", {compute(40)}, 0, 10), admin).status == 201);
  const json window = maintenance(5, 6, {"server/s1"});
  REQUIRE(f.put("/v1/maintenances/m1", maintenance(50, 60, {"server/s1"}), admin).status == 201);
  const auto mark = f.mark();

  SECTION("without a token every scheduling route is 401") {
    for (const char* target : {"/v1/capacity", "/v1/tenants/t1/usage", "/v1/maintenances/m1/impact"})
      CHECK(f.get(target).status == 401);
    CHECK(f.call("POST", "/v1/impact", window.dump()).status == 401);
  }
  SECTION("capacity: every role") {
    for (const auto* who : {&admin, &reader, &as_t1, &as_t2}) {
      const auto r = f.get("/v1/capacity?hsn_only=true", *who);
      CHECK(r.status == 200);
      CHECK(body_of(r) == capacity(60, 600, 2, 6, 0));
    }
  }
  SECTION("usage: admin and the tenant itself") {
    CHECK(f.get("/v1/tenants/t1/usage", admin).status == 200);
    CHECK(body_of(f.get("/v1/tenants/t1/usage", as_t1))["usage"]["cpu"] == 60);
    CHECK(body_of(f.get("/v1/tenants/t2/usage", as_t2))["usage"]["cpu"] == 40);
    for (const auto& [target, who] : std::vector<std::pair<std::string, const options*>>{
             {"/v1/tenants/t1/usage", &reader},
             {"/v1/tenants/t2/usage", &as_t1},
             {"/v1/tenants/t1/usage", &as_t2},
             {"/v1/tenants/ghost/usage", &as_t1},  // 403 before 404: no probing
         }) {
      INFO(target);
      const auto r = f.get(target, *who);
      CHECK(r.status == 403);
      CHECK(error_code(r) == "forbidden");
    }
    CHECK(f.get("/v1/tenants/ghost/usage", admin).status == 404);
  }
  SECTION("impact: admin and reader see every tenant and a tenant only itself") {
    const json full = {{"reservations", {{{"id", "r1"}, {"tenant", "t1"}, {"short", {{"cpu", 20}}}}}},
                       {"tenants", {"t1"}}};
    const json none = {{"reservations", json::array()}, {"tenants", json::array()}};
    for (const auto& [who, expected] : std::vector<std::pair<const options*, json>>{
             {&admin, full}, {&reader, full}, {&as_t1, full}, {&as_t2, none}}) {
      auto r = f.call("POST", "/v1/impact", window.dump(), *who);
      CHECK(r.status == 200);
      CHECK(body_of(r) == expected);
    }
    for (const auto* who : {&admin, &reader, &as_t1, &as_t2}) {
      const auto r = f.get("/v1/maintenances/m1/impact", *who);
      CHECK(r.status == 200);
      CHECK(body_of(r) == none);
    }
  }
  SECTION("reservations: admin any and a tenant its own only and a reader none") {
    CHECK(f.get("/v1/reservations/r1", as_t1).status == 200);
    CHECK(f.get("/v1/reservations/r1", as_t2).status == 403);
    CHECK(f.get("/v1/reservations/r1", reader).status == 403);
    CHECK(f.reserve("x", reservation("t1", {compute(1)}, 20, 21), reader).status == 403);
    CHECK(f.reserve("x", reservation("t2", {compute(1)}, 20, 21), as_t1).status == 403);
    CHECK(f.patch("/v1/reservations/r2", {{"end", at(11)}}, as_t1).status == 403);
    CHECK(f.call("DELETE", "/v1/reservations/r2", {}, as_t1).status == 403);
    CHECK(f.mark() == mark);
    CHECK(f.reserve("x", reservation("t1", {compute(1)}, 20, 21), as_t1).status == 201);
    CHECK(f.patch("/v1/reservations/x", {{"end", at(22)}}, as_t1).status == 200);
    CHECK(f.call("DELETE", "/v1/reservations/x", {}, as_t1).status == 204);
    CHECK(f.reserve("y", reservation("t2", {compute(1)}, 20, 21), admin).status == 201);
  }
  SECTION("a refusal shown to a tenant names no other tenant's reservation") {
    auto r = f.reserve("mine", reservation("t2", {compute(10)}, 0, 10), as_t2);
    REQUIRE(r.status == 409);
    json e = error_of(r);
    std::string message = e["message"];
    INFO(message);
    CHECK(message.find("r1") == std::string::npos);
    CHECK(message.find("t1") == std::string::npos);
    CHECK(message.find("reservation/r2 (tenant t2, 40)") != std::string::npos);
    CHECK(message.find("1 reservation of other tenants (60)") != std::string::npos);
    CHECK(e["details"]["holders"] == json{{{"key", "reservation/r2"}, {"tenant", "t2"}, {"amount", 40}}});
    CHECK(e["details"]["others"] == json{{"reservations", 1}, {"amount", 60}});
    CHECK(e["details"]["shortages"][0]["short"] == 10);
    // The admin sees every holder.
    r = f.reserve("mine", reservation("t2", {compute(10)}, 0, 10), admin);
    REQUIRE(r.status == 409);
    e = error_of(r);
    CHECK(e["details"]["holders"].size() == 2);
    CHECK(e["message"].get<std::string>().find("reservation/r1 (tenant t1, 60)") != std::string::npos);
    CHECK(f.mark() == mark);
  }
}

TEST_CASE("scheduling routes are in /openapi.json and each is answered with the scheduler wired") {
  site f;
  REQUIRE(f.put("/v1/maintenances/m1", maintenance(5, 6, {"server/s1"})).status == 201);
  const auto doc = json::parse(api::openapi_text());
  const auto& paths = doc["paths"];
  const std::vector<std::pair<std::string, std::string>> routes{{"/v1/capacity", "get"},
                                                                {"/v1/tenants/{id}/usage", "get"},
                                                                {"/v1/maintenances/{id}/impact", "get"},
                                                                {"/v1/impact", "post"}};
  for (const auto& [path, method] : routes) {
    INFO(path);
    REQUIRE(paths.contains(path));
    REQUIRE(paths[path].contains(method));
    CHECK(paths[path][method]["responses"].contains("200"));
  }
  std::set<std::string> capacity_params;
  for (const auto& p : paths["/v1/capacity"]["get"]["parameters"]) capacity_params.insert(p["name"]);
  CHECK(capacity_params == std::set<std::string>{"datacenter", "hsn_only", "at"});
  CHECK(paths["/v1/impact"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"] ==
        "#/components/schemas/maintenance");

  CHECK(f.get("/v1/capacity").status == 200);
  CHECK(f.get("/v1/tenants/t1/usage").status == 200);
  CHECK(f.get("/v1/maintenances/m1/impact").status == 200);
  CHECK(f.call("POST", "/v1/impact", maintenance(5, 6, {"server/s1"}).dump()).status == 200);
}

TEST_CASE("scheduling routes answer 503 when no scheduler is wired and are counted by template") {
  fixture plain;
  plain.seed();
  const auto r = plain.get("/v1/capacity");
  CHECK(r.status == 503);
  CHECK(error_code(r) == "unavailable");

  site f;
  f.get("/v1/tenants/t1/usage");
  f.get("/v1/tenants/ghost/usage");
  CHECK(f.metrics.value("horao_http_requests_total",
                        {{"route", "/v1/tenants/{id}/usage"}, {"method", "GET"}, {"status", "200"}}) == 1);
  CHECK(f.metrics.value("horao_http_requests_total",
                        {{"route", "/v1/tenants/{id}/usage"}, {"method", "GET"}, {"status", "404"}}) == 1);
}

TEST_CASE("a reservation body that cannot be scheduled is 422 before the scheduler runs") {
  site f;
  const auto mark = f.mark();
  auto r = f.reserve("r", reservation("ghost", {compute(1)}, 0, 1));
  CHECK(r.status == 422);
  CHECK(error_field(r) == "/tenant");
  r = f.reserve("r", reservation("t1", json::array(), 0, 1));
  CHECK(r.status == 422);
  r = f.reserve("r", reservation("t1", {compute(1)}, 2, 1));
  CHECK(r.status == 422);
  CHECK(f.mark() == mark);
}
