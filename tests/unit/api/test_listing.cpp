#include <set>

#include "fixture.hpp"

using namespace horao;
using namespace horao::api::test;

namespace {

std::string server_id(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "s-%04d", i);
  return buf;
}

void add_servers(fixture& f, int n) {
  for (int i = 0; i < n; ++i) {
    json body = {{"cabinet", "cab1"}, {"status", i % 3 == 0 ? "down" : "up"}};
    if (i % 5 == 0) body["cpus"] = {{{"cores", 8}, {"clock_ghz", 2}}};
    REQUIRE(f.put("/v1/servers/" + server_id(i), body).status == 201);
  }
}

}  // namespace

TEST_CASE("paging through 250 records: ordered by id, no duplicates, no gaps") {
  fixture f;
  f.put("/v1/datacenters/dc1", {{"name", "A"}, {"number", 1}});
  f.put("/v1/cabinets/cab1", {{"datacenter", "dc1"}, {"row", 1}, {"position", 1}});
  // Created in a scrambled order: listing order must not depend on it.
  std::vector<int> order;
  for (int i = 0; i < 250; ++i) order.push_back((i * 97) % 250);
  for (int i : order) REQUIRE(f.put("/v1/servers/" + server_id(i), {{"cabinet", "cab1"}}).status == 201);

  std::vector<std::string> seen;
  std::string after;
  int pages = 0;
  while (true) {
    const auto r = f.get("/v1/servers?limit=100" + (after.empty() ? "" : "&after=" + after));
    REQUIRE(r.status == 200);
    const auto j = body_of(r);
    ++pages;
    for (const auto& item : j["items"]) seen.push_back(item["id"]);
    if (j["next"].is_null()) break;
    after = j["next"];
    REQUIRE(pages < 10);
  }
  CHECK(pages == 3);
  REQUIRE(seen.size() == 250);
  for (int i = 0; i < 250; ++i) CHECK(seen[i] == server_id(i));
}

TEST_CASE("a full last page says next is null when nothing follows") {
  fixture f;
  f.put("/v1/datacenters/dc1", {{"name", "A"}, {"number", 1}});
  f.put("/v1/cabinets/cab1", {{"datacenter", "dc1"}, {"row", 1}, {"position", 1}});
  add_servers(f, 10);
  auto j = body_of(f.get("/v1/servers?limit=10"));
  CHECK(j["items"].size() == 10);
  CHECK(j["next"].is_null());
  j = body_of(f.get("/v1/servers?limit=9"));
  CHECK(j["next"] == server_id(8));
  j = body_of(f.get("/v1/servers"));  // default limit
  CHECK(j["items"].size() == 10);
  j = body_of(f.get("/v1/tenants"));
  CHECK(j == json{{"items", json::array()}, {"next", nullptr}});
}

TEST_CASE("equality filters compare JSON values of top-level scalar fields") {
  fixture f;
  f.seed();
  add_servers(f, 30);
  auto j = body_of(f.get("/v1/servers?status=down&cabinet=cab1&limit=1000"));
  CHECK(j["items"].size() == 10);
  for (const auto& item : j["items"]) CHECK(item["status"] == "down");
  j = body_of(f.get("/v1/servers?cabinet=other"));
  CHECK(j["items"].empty());
  CHECK(j["next"].is_null());

  f.put("/v1/cabinets/cab2", {{"datacenter", "dc1"}, {"row", 3}, {"position", 1}});
  j = body_of(f.get("/v1/cabinets?row=3"));
  REQUIRE(j["items"].size() == 1);
  CHECK(j["items"][0]["id"] == "cab2");
  CHECK(body_of(f.get("/v1/networks?hsn=true"))["items"].size() == 1);
  CHECK(body_of(f.get("/v1/networks?hsn=false"))["items"].empty());
  f.put("/v1/disks/d2", {{"machine", "server/s1"}, {"capacity_tb", 4.0}});
  f.put("/v1/disks/d3", {{"machine", "server/s1"}, {"capacity_tb", 4.5}});
  // Numbers compare by value: 4 matches a stored 4 and 4.0 alike.
  j = body_of(f.get("/v1/disks?capacity_tb=4"));
  CHECK(j["items"].size() == 2);
  j = body_of(f.get("/v1/disks?capacity_tb=4.5&machine=server%2Fs1"));
  REQUIRE(j["items"].size() == 1);
  CHECK(j["items"][0]["id"] == "d3");
}

TEST_CASE("a filter that matches nothing scans a bounded number of records per call") {
  fixture f([](api::router_context& ctx) { ctx.max_scan = 40; });
  f.put("/v1/datacenters/dc1", {{"name", "A"}, {"number", 1}});
  f.put("/v1/cabinets/cab1", {{"datacenter", "dc1"}, {"row", 1}, {"position", 1}});
  add_servers(f, 100);
  f.put("/v1/servers/" + server_id(95), {{"cabinet", "cab1"}, {"model", "needle"}});
  std::string after;
  int calls = 0;
  std::vector<std::string> found;
  while (true) {
    const auto j = body_of(f.get("/v1/servers?model=needle" + (after.empty() ? "" : "&after=" + after)));
    ++calls;
    for (const auto& item : j["items"]) found.push_back(item["id"]);
    if (j["next"].is_null()) break;
    after = j["next"];
    REQUIRE(calls < 10);
  }
  CHECK(calls == 3);  // 40 + 40 + 20 records
  CHECK(found == std::vector<std::string>{server_id(95)});
}

TEST_CASE("listing rows are the same JSON as GET") {
  fixture f;
  f.seed();
  const auto j = body_of(f.get("/v1/servers"));
  REQUIRE(j["items"].size() == 1);
  CHECK(j["items"][0] == body_of(f.get("/v1/servers/s1")));
}
