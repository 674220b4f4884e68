#include "fixture.hpp"

using namespace horao;
using namespace horao::api::test;

namespace {

json op(std::string o, std::string key, json body = nullptr) {
  json j = {{"op", std::move(o)}, {"key", std::move(key)}};
  if (!body.is_null()) j["body"] = std::move(body);
  return j;
}

api::response batch(fixture& f, json ops) {
  return f.call("POST", "/v1/batch", json{{"operations", ops}}.dump());
}

}  // namespace

TEST_CASE("a batch applies everything, in order, with references to earlier operations") {
  fixture f;
  const auto r =
      batch(f, {op("put", "datacenter/dc1", {{"name", "A"}, {"number", 1}}),
                op("put", "cabinet/cab1", {{"datacenter", "dc1"}, {"row", 1}, {"position", 1}}),
                op("put", "server/s1", {{"cabinet", "cab1"}}), op("patch", "server/s1", {{"status", "down"}}),
                op("put", "server/s2", {{"cabinet", "cab1"}}), op("delete", "server/s2"),
                op("put", "datacenter/dc1", {{"name", "B"}, {"number", 1}})});
  REQUIRE(r.status == 200);
  const auto j = body_of(r);
  const auto& results = j["results"];
  REQUIRE(results.size() == 7);
  CHECK(results[0]["status"] == 201);
  CHECK(results[2]["key"] == "server/s1");
  CHECK(results[3]["status"] == 200);
  CHECK(results[3]["resource"]["status"] == "down");
  CHECK(results[5]["status"] == 204);
  CHECK(results[5]["resource"].is_null());
  CHECK(results[6]["status"] == 200);
  CHECK(body_of(f.get("/v1/servers/s1"))["status"] == "down");
  CHECK(f.get("/v1/servers/s2").status == 404);
  CHECK(body_of(f.get("/v1/datacenters/dc1"))["name"] == "B");
}

TEST_CASE("a failing batch applies nothing and names the operation") {
  fixture f;
  f.seed();
  const auto mark = f.mark();
  auto r = batch(f, {op("put", "server/s5", {{"cabinet", "cab1"}}), op("delete", "disk/d1"),
                     op("put", "server/s6", {{"cabinet", "cab1"}, {"ram", {{{"size_gb", 0}}}}})});
  CHECK(r.status == 422);
  CHECK(error_field(r) == "/operations/2/body/ram/0/size_gb");
  CHECK(f.mark() == mark);
  CHECK(f.get("/v1/servers/s5").status == 404);

  // A reference to something deleted earlier in the batch is refused.
  r = batch(f, {op("delete", "disk/d1"), op("delete", "server/s1"),
                op("put", "disk/d9", {{"machine", "server/s1"}, {"capacity_tb", 1}})});
  CHECK(r.status == 422);
  CHECK(error_field(r) == "/operations/2/body/machine");
  CHECK(f.mark() == mark);

  // Patching what an earlier operation deleted: 404 for that operation.
  r = batch(f, {op("delete", "disk/d1"), op("patch", "disk/d1", {{"status", "down"}})});
  CHECK(r.status == 404);
  CHECK(error_field(r) == "/operations/1/key");
  CHECK(f.mark() == mark);
}

TEST_CASE("batch deletes see children added or removed earlier in the batch") {
  fixture f;
  f.seed();
  const auto mark = f.mark();
  // s1 still has disk d1: refused.
  auto r = batch(f, {op("delete", "server/s1")});
  CHECK(r.status == 409);
  CHECK(error_code(r) == "has_children");
  CHECK(body_of(r)["error"]["message"].get<std::string>().find("disk/d1") != std::string::npos);
  // A child created earlier in the batch counts too.
  r = batch(f, {op("delete", "disk/d1"), op("put", "disk/d2", {{"machine", "server/s1"}, {"capacity_tb", 1}}),
                op("delete", "server/s1")});
  CHECK(r.status == 409);
  CHECK(error_field(r) == "/operations/2/key");
  CHECK(body_of(r)["error"]["message"].get<std::string>().find("disk/d2") != std::string::npos);
  // Moving a child away earlier in the batch frees the parent.
  CHECK(f.mark() == mark);
  f.put("/v1/servers/s2", {{"cabinet", "cab1"}});
  r = batch(f, {op("patch", "disk/d1", {{"machine", "server/s2"}}), op("delete", "server/s1")});
  CHECK(r.status == 200);
  CHECK(body_of(f.get("/v1/disks/d1"))["machine"] == "server/s2");
  CHECK(f.get("/v1/servers/s1").status == 404);
}

TEST_CASE("a batch waits for the durability of its last change") {
  fixture f;
  f.seed();
  f.durability.hold = true;
  auto r = f.try_call(
      "POST", "/v1/batch",
      json{{"operations",
            {op("put", "server/s7", {{"cabinet", "cab1"}}), op("put", "server/s8", {{"cabinet", "cab1"}})}}}
          .dump());
  CHECK_FALSE(r);
  REQUIRE(f.durability.held.size() == 1);
  CHECK(f.durability.held[0].first == f.store.seq());
  f.durability.release(true);
}

TEST_CASE("an empty batch is a no-op; more than 10000 operations are refused") {
  fixture f;
  f.seed();
  const auto mark = f.mark();
  auto r = batch(f, json::array());
  CHECK(r.status == 200);
  CHECK(body_of(r) == json{{"results", json::array()}});
  json many = json::array();
  for (int i = 0; i < 10'001; ++i) many.push_back(op("delete", "disk/d1"));
  f.config.max_body_bytes = 8 << 20;
  r = batch(f, many);
  CHECK(r.status == 422);
  CHECK(error_field(r) == "/operations");
  CHECK(f.mark() == mark);
}
