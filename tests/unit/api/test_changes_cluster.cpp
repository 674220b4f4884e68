#include "fixture.hpp"
#include "horao/crdt/hlc.hpp"

using namespace horao;
using namespace horao::api::test;

TEST_CASE("changes since a sequence, one entry per key, deletions included") {
  fixture f;
  f.seed();
  const std::uint64_t since = f.store.seq();
  f.call("PATCH", "/v1/servers/s1", R"({"status":"down"})");
  f.call("DELETE", "/v1/disks/d1");
  f.call("PATCH", "/v1/servers/s1", R"({"status":"up"})");

  auto j = body_of(f.get("/v1/changes?since=" + std::to_string(since)));
  const auto& changes = j["changes"];
  REQUIRE(changes.size() == 2);  // s1 coalesced to its newest change
  CHECK(changes[0]["key"] == "disk/d1");
  CHECK(changes[0]["deleted"] == true);
  CHECK(changes[0]["resource"].is_null());
  CHECK(changes[1]["key"] == "server/s1");
  CHECK(changes[1]["deleted"] == false);
  CHECK(changes[1]["resource"] == body_of(f.get("/v1/servers/s1")));
  CHECK(changes[1]["seq"] == f.store.seq());
  CHECK(j["next"] == f.store.seq());
  CHECK(j["resync"] == false);

  // Nothing new: next stays.
  j = body_of(f.get("/v1/changes?since=" + std::to_string(f.store.seq())));
  CHECK(j["changes"].empty());
  CHECK(j["next"] == f.store.seq());

  // Paging with limit.
  std::uint64_t cursor = 0;
  std::size_t total = 0;
  for (int i = 0; i < 20; ++i) {
    j = body_of(f.get("/v1/changes?limit=3&since=" + std::to_string(cursor)));
    total += j["changes"].size();
    if (j["changes"].empty()) break;
    CHECK(j["changes"].size() <= 3);
    cursor = j["next"];
  }
  CHECK(total == f.store.size());
}

TEST_CASE("GET /v1/cluster shows node, seq, clock, records, digest and peers") {
  fixture f([](api::router_context& ctx) {
    ctx.peers = [] {
      return json::array({{{"url", "ws://b:8080"},
                           {"node", "dc-b"},
                           {"connected", true},
                           {"pending", 0},
                           {"acked_seq", 3},
                           {"last_push", nullptr},
                           {"last_error", nullptr}}});
    };
  });
  f.seed();
  const auto j = body_of(f.get("/v1/cluster"));
  CHECK(j["node"] == "dc-test");
  CHECK(j["seq"] == f.store.seq());
  CHECK(j["clock"] == crdt::to_string(f.store.clock().last()));
  CHECK(j["records"] == f.store.size());
  CHECK(j["digest"] == f.store.digest().to_hex());
  CHECK(j["digest"].get<std::string>().size() == 32);
  REQUIRE(j["peers"].size() == 1);
  CHECK(j["peers"][0]["node"] == "dc-b");
  // A deletion keeps a tombstone: records counts it, and the digest moves.
  const std::string digest = j["digest"];
  f.call("DELETE", "/v1/disks/d1");
  const auto after = body_of(f.get("/v1/cluster"));
  CHECK(after["records"] == j["records"]);
  CHECK(after["digest"] != digest);
}

TEST_CASE("the default peer list is empty, and POST /v1/cluster/sync asks for a push") {
  int pushes = 0;
  fixture f([&](api::router_context& ctx) { ctx.sync_now = [&] { ++pushes; }; });
  CHECK(body_of(f.get("/v1/cluster"))["peers"] == json::array());
  const auto mark = f.mark();
  const auto r = f.call("POST", "/v1/cluster/sync");
  CHECK(r.status == 202);
  CHECK(pushes == 1);
  CHECK(f.mark() == mark);
}
