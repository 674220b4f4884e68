#include "fixture.hpp"

using namespace horao;
using namespace horao::api::test;

namespace {

std::vector<std::string> ids(const json& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i["id"]);
  return out;
}

}  // namespace

TEST_CASE("the datacenter tree nests cabinets, chassis, blades, nodes, servers, devices and disks") {
  fixture f;
  f.seed();
  f.put("/v1/disks/d2", {{"machine", "node/n1"}, {"capacity_tb", 1}});
  f.put("/v1/routers/r1", {{"cabinet", "cab1"}});
  f.put("/v1/firewalls/fw1", {{"cabinet", "cab1"}});
  f.put("/v1/datacenters/dc2", {{"name", "B"}, {"number", 2}});
  f.put("/v1/cabinets/other", {{"datacenter", "dc2"}, {"row", 1}, {"position", 1}});
  f.put("/v1/vms/vm1", {{"host", "server/s1"}, {"cpu", 1}, {"ram_gb", 1}});

  const auto r = f.get("/v1/datacenters/dc1/tree");
  REQUIRE(r.status == 200);
  const auto j = body_of(r);
  const auto& dc = j["datacenter"];
  CHECK(dc["id"] == "dc1");
  CHECK(dc["name"] == "Amsterdam");
  CHECK(ids(dc["contains"]["cabinets"]) == std::vector<std::string>{"cab1"});
  CHECK(ids(dc["contains"]["networks"]) == std::vector<std::string>{"net1"});
  const auto& cab = dc["contains"]["cabinets"][0];
  CHECK(cab == [&] {
    auto plain = body_of(f.get("/v1/cabinets/cab1"));
    plain["contains"] = cab["contains"];
    return plain;
  }());
  CHECK(ids(cab["contains"]["servers"]) == std::vector<std::string>{"s1"});
  CHECK(ids(cab["contains"]["switches"]) == std::vector<std::string>{"sw1"});
  CHECK(ids(cab["contains"]["routers"]) == std::vector<std::string>{"r1"});
  CHECK(ids(cab["contains"]["firewalls"]) == std::vector<std::string>{"fw1"});
  const auto& chassis = cab["contains"]["chassis"];
  REQUIRE(ids(chassis) == std::vector<std::string>{"ch1"});
  const auto& blade = chassis[0]["contains"]["blades"][0];
  CHECK(blade["id"] == "b1");
  const auto& node = blade["contains"]["nodes"][0];
  CHECK(node["id"] == "n1");
  CHECK(ids(node["contains"]["disks"]) == std::vector<std::string>{"d2"});
  CHECK(ids(cab["contains"]["servers"][0]["contains"]["disks"]) == std::vector<std::string>{"d1"});
  CHECK_FALSE(cab["contains"]["servers"][0]["contains"].contains("vms"));
  CHECK_FALSE(cab["contains"]["switches"][0].contains("contains"));
  CHECK(j["orphans"] == json::array());
  CHECK(j["truncated"] == false);
  CHECK(r.body.find("other") == std::string::npos);
}

TEST_CASE("the tree lists orphans apart") {
  fixture f;
  f.seed();
  // A replica deleted the cabinet while this one added a server to it: merge
  // a remote tombstone that is newer than everything here.
  const auto* cab = f.store.find("cabinet/cab2");
  CHECK_FALSE(cab);
  f.put("/v1/cabinets/cab2", {{"datacenter", "dc1"}, {"row", 2}, {"position", 1}});
  f.put("/v1/servers/lost", {{"cabinet", "cab2"}});
  crdt::record dead = f.store.find("cabinet/cab2")->state;
  dead.remove(f.clock.tick());
  REQUIRE(f.store.merge("cabinet/cab2", dead, f.clock.self()) == store::merge_outcome::changed);
  REQUIRE(f.relations.is_orphan("server/lost"));

  const auto j = body_of(f.get("/v1/datacenters/dc1/tree"));
  REQUIRE(j["orphans"].size() == 1);
  CHECK(j["orphans"][0]["key"] == "server/lost");
  CHECK(j["orphans"][0]["missing"] == json::array({{{"field", "cabinet"}, {"key", "cabinet/cab2"}}}));
  CHECK(f.get("/v1/servers/lost").status == 200);  // orphans stay readable
  CHECK(f.metrics.render().find("horao_orphans 1") != std::string::npos);
}
