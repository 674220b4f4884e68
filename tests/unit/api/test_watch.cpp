// /v1/watch without sockets: the request checks (router::admit and
// parse_watch_request), the 426 of a plain GET, and the feed: messages equal
// to /v1/changes items, replay in bounded chunks then live, kind and access
// filters, the byte cap that ends a slow watcher, and a hub that goes first.
#include <string>
#include <vector>

#include "fixture.hpp"
#include "horao/api/sha256.hpp"
#include "horao/api/watch.hpp"
#include "horao/api/watch_hub.hpp"

using namespace horao;
using namespace horao::api::test;

namespace {

std::shared_ptr<const api::token_table> tokens() {
  const auto line = [](std::string_view token, std::string_view rest) {
    return api::to_hex(api::sha256(token)) + " " + std::string(rest) + "\n";
  };
  return std::make_shared<api::token_table>(api::token_table::parse(
      line("admin-token", "admin") + line("reader-token", "reader") + line("t1-token", "tenant t1")));
}

api::request upgrade_request(std::string target, std::string authorization = {}) {
  api::request r;
  r.method = "GET";
  r.target = std::move(target);
  r.authorization = std::move(authorization);
  return r;
}

// The watch a request asks for, or its refusal.
std::variant<api::watch_request, api::response> admit_watch(fixture& f, const std::string& target,
                                                            std::string authorization = {}) {
  auto a = f.router->admit(upgrade_request(target, std::move(authorization)));
  if (auto* refused = std::get_if<api::response>(&a)) return *refused;
  const auto& ok = std::get<api::router::admission>(a);
  REQUIRE(ok.route.route->id == api::route_id::watch);
  auto w = api::parse_watch_request(f.router->context(), ok.who, ok.query);
  if (auto* e = std::get_if<api::api_error>(&w)) return api::error_response(*e);
  return std::get<api::watch_request>(std::move(w));
}

api::watch_request admitted(fixture& f, const std::string& target, std::string authorization = {}) {
  auto w = admit_watch(f, target, std::move(authorization));
  if (auto* r = std::get_if<api::response>(&w)) FAIL("refused " << r->status << " " << r->body);
  return std::get<api::watch_request>(std::move(w));
}

api::response refused(fixture& f, const std::string& target, std::string authorization = {}) {
  auto w = admit_watch(f, target, std::move(authorization));
  REQUIRE(std::holds_alternative<api::response>(w));
  return std::get<api::response>(std::move(w));
}

// Everything the feed has now, replay included, as parsed JSON.
std::vector<json> drain(api::watch_feed& feed) {
  std::vector<json> out;
  for (int guard = 0; guard < 1'000'000; ++guard) {
    auto m = feed.next();
    if (m) {
      out.push_back(json::parse(*m));
      continue;
    }
    if (!feed.replaying() || feed.ended() != api::watch_feed::end::none) break;
  }
  return out;
}

std::vector<std::string> keys_of(const std::vector<json>& items) {
  std::vector<std::string> keys;
  for (const auto& i : items) keys.push_back(i["key"]);
  return keys;
}

// The items of GET /v1/changes?since=N (one page of up to 1000).
std::vector<json> changes_since(fixture& f, std::uint64_t since, options o = {}) {
  const auto r = f.get("/v1/changes?limit=1000&since=" + std::to_string(since), o);
  REQUIRE(r.status == 200);
  return body_of(r)["changes"].get<std::vector<json>>();
}

// Servers big0 .. big(n-1) in cab1, each with a 900-byte model: about a
// kilobyte of log apiece, so a few hundred make a replay span several chunks.
void put_big_servers(fixture& f, int n) {
  const json model(std::string(900, 'm'));
  for (int i = 0; i < n; ++i)
    REQUIRE(f.put("/v1/servers/big" + std::to_string(i), {{"cabinet", "cab1"}, {"model", model}}).status ==
            201);
}

}  // namespace

TEST_CASE("a plain GET of /v1/watch is 426 with Upgrade and bad parameters are 400 first") {
  fixture f;
  f.seed();
  auto r = f.get("/v1/watch");
  CHECK(r.status == 426);
  CHECK(error_code(r) == "upgrade_required");
  CHECK(header(r, "Upgrade") == "websocket");
  CHECK(f.get("/v1/watch?since=3&kind=server,node").status == 426);
  for (const char* bad :
       {"/v1/watch?since=abc", "/v1/watch?since=-1", "/v1/watch?kind=servers", "/v1/watch?kind=server,,node",
        "/v1/watch?kind=", "/v1/watch?limit=3", "/v1/watch?since=999999"}) {
    INFO(bad);
    r = f.get(bad);
    CHECK(r.status == 400);
    CHECK(error_code(r) == "bad_query");
  }
  CHECK(f.call("POST", "/v1/watch", "{}").status == 405);
}

TEST_CASE("a watch upgrade passes the router's checks in the router's order") {
  fixture f([](api::router_context& ctx) { ctx.tokens = tokens(); });
  REQUIRE(
      f.put("/v1/datacenters/dc1", {{"name", "A"}, {"number", 1}}, {.authorization = "Bearer admin-token"})
          .status == 201);
  // No token: 401 before the query is looked at.
  auto r = refused(f, "/v1/watch?since=abc");
  CHECK(r.status == 401);
  CHECK(header(r, "WWW-Authenticate") == "Bearer");
  CHECK(refused(f, "/v1/watch", "Bearer nope").status == 401);
  // A valid token, a bad query: 400.
  r = refused(f, "/v1/watch?since=abc", "Bearer reader-token");
  CHECK(r.status == 400);
  CHECK(error_code(r) == "bad_query");
  CHECK(refused(f, "/v1/watch?pretty=1", "Bearer reader-token").status == 400);
  // A reader may watch, but not reservations.
  const auto w = admitted(f, "/v1/watch?since=0&kind=server", "Bearer reader-token");
  CHECK(w.who.role == api::role::reader);
  CHECK(w.since == std::optional<std::uint64_t>(0));
  CHECK(w.kinds == std::vector<std::string>{"server"});
  r = refused(f, "/v1/watch?kind=server,reservation", "Bearer reader-token");
  CHECK(r.status == 403);
  CHECK(error_code(r) == "forbidden");
  // A tenant may ask for reservations (it sees its own).
  CHECK(admitted(f, "/v1/watch?kind=reservation,vm", "Bearer t1-token").who.tenant == "t1");
  // Without since: live only.
  CHECK_FALSE(admitted(f, "/v1/watch", "Bearer admin-token").since.has_value());
}

TEST_CASE("a watch is refused 503 while the daemon is loading") {
  fixture f([](api::router_context& ctx) {
    ctx.loaded = [](std::string* reason) {
      if (reason) *reason = "recovery";
      return false;
    };
  });
  CHECK(refused(f, "/v1/watch").status == 503);
}

TEST_CASE("a since older than the change log can replay is 410 resync_required") {
  fixture f;
  f.seed();
  REQUIRE(f.call("DELETE", "/v1/disks/d1").status == 204);
  f.time.now += 3'600'000'000;  // an hour later
  REQUIRE(f.store.purge_tombstones(f.time.now, 100) == 1);
  REQUIRE(f.store.oldest_replayable() > 1);
  const auto r = refused(f, "/v1/watch?since=1");
  CHECK(r.status == 410);
  CHECK(error_code(r) == "resync_required");
  // From nothing, or from where the log still reaches, is fine.
  CHECK(admitted(f, "/v1/watch?since=0").since == std::optional<std::uint64_t>(0));
  CHECK(admitted(f, "/v1/watch?since=" + std::to_string(f.store.oldest_replayable())).since.has_value());
}

TEST_CASE("a replaying feed sends what /v1/changes lists then the live changes in order") {
  fixture f;
  f.seed();
  api::watch_hub hub(f.router->context());
  auto feed = hub.open(admitted(f, "/v1/watch?since=2"));
  CHECK(feed->replaying());
  CHECK(hub.watchers() == 1);
  CHECK(f.metrics.value("horao_watchers") == 1);

  // Changed after the watch began but before the replay reached it: sent
  // once, in the replay, at its new place (coalesced like /v1/changes).
  REQUIRE(f.call("PATCH", "/v1/servers/s1", R"({"model": "R6625"})").status == 200);
  auto replayed = drain(*feed);
  CHECK_FALSE(feed->replaying());
  CHECK(replayed == changes_since(f, 2));
  CHECK(replayed.back()["key"] == "server/s1");
  CHECK(replayed.back()["resource"]["model"] == "R6625");

  // Live: each change as it happens, exactly the item /v1/changes shows.
  const auto before = f.store.seq();
  REQUIRE(f.call("DELETE", "/v1/switches/sw1").status == 204);
  REQUIRE(f.put("/v1/datacenters/dc2", {{"name", "B"}, {"number", 2}}).status == 201);
  CHECK(feed->queued_messages() == 2);
  const auto live = drain(*feed);
  CHECK(live == changes_since(f, before));
  CHECK(live[0]["deleted"] == true);
  CHECK(live[0]["resource"].is_null());
  CHECK(feed->cursor() == f.store.seq());

  feed.reset();
  CHECK(hub.watchers() == 0);
  CHECK(f.metrics.value("horao_watchers") == 0);
}

TEST_CASE("a live feed without since starts at the current sequence and sees every later change") {
  fixture f;
  f.seed();
  api::watch_hub hub(f.router->context());
  auto feed = hub.open(admitted(f, "/v1/watch"));
  CHECK_FALSE(feed->replaying());
  CHECK(feed->next() == nullptr);
  int wakes = 0;
  feed->on_wake([&] { ++wakes; });
  // Two changes of one key are two messages when live.
  REQUIRE(f.call("PATCH", "/v1/servers/s1", R"({"model": "a"})").status == 200);
  REQUIRE(f.call("PATCH", "/v1/servers/s1", R"({"model": "b"})").status == 200);
  CHECK(wakes == 1);  // woken when the queue stopped being empty
  const auto items = drain(*feed);
  REQUIRE(items.size() == 2);
  CHECK(items[0]["resource"]["model"] == "a");
  CHECK(items[1]["resource"]["model"] == "b");
  CHECK(items[0]["seq"].get<std::uint64_t>() < items[1]["seq"].get<std::uint64_t>());
}

TEST_CASE("a replay of a big log comes in bounded chunks and misses nothing") {
  fixture f;
  f.seed();
  put_big_servers(f, 1500);
  api::watch_hub hub(f.router->context());
  auto feed = hub.open(admitted(f, "/v1/watch?since=0&kind=server"));
  std::size_t most_queued = 0;
  std::vector<json> items;
  while (true) {
    auto m = feed->next();
    most_queued = std::max(most_queued, feed->queued_bytes() + (m ? m->size() : 0));
    if (m) {
      items.push_back(json::parse(*m));
      if (items.size() == 700) REQUIRE(f.call("DELETE", "/v1/servers/big3").status == 204);
      continue;
    }
    if (!feed->replaying()) break;
  }
  // 1500 servers of ~1 KiB: more than one chunk, never the whole log at once.
  CHECK(most_queued <= api::watch_replay_chunk_bytes + 2048);
  REQUIRE(items.size() == 1 + 1500 + 1);  // s1, big0..big1499, then big3's deletion
  CHECK(items.front()["key"] == "server/s1");
  CHECK(items.back()["key"] == "server/big3");
  CHECK(items.back()["deleted"] == true);
  for (std::size_t i = 1; i < items.size(); ++i)
    CHECK(items[i - 1]["seq"].get<std::uint64_t>() < items[i]["seq"].get<std::uint64_t>());
}

TEST_CASE("a feed filters by kind and shows a tenant only what it may read") {
  fixture f([](api::router_context& ctx) { ctx.tokens = tokens(); });
  const options admin{.authorization = "Bearer admin-token"};
  REQUIRE(f.put("/v1/datacenters/dc1", {{"name", "A"}, {"number", 1}}, admin).status == 201);
  REQUIRE(f.put("/v1/cabinets/cab1", {{"datacenter", "dc1"}, {"row", 1}, {"position", 1}}, admin).status ==
          201);
  REQUIRE(f.put("/v1/servers/s1", {{"cabinet", "cab1"}}, admin).status == 201);
  REQUIRE(f.put("/v1/tenants/t1", {{"owner", "alice"}}, admin).status == 201);
  REQUIRE(f.put("/v1/tenants/t2", {{"owner", "bob"}}, admin).status == 201);

  api::watch_hub hub(f.router->context());
  auto servers = hub.open(admitted(f, "/v1/watch?kind=server", "Bearer reader-token"));
  auto reader = hub.open(admitted(f, "/v1/watch", "Bearer reader-token"));
  auto tenant = hub.open(admitted(f, "/v1/watch?since=0&kind=vm,tenant", "Bearer t1-token"));

  json mine = {{"host", "server/s1"}, {"cpu", 1}, {"ram_gb", 1}, {"tenant", "t1"}};
  json theirs = mine;
  theirs["tenant"] = "t2";
  REQUIRE(f.put("/v1/vms/mine", mine, admin).status == 201);
  REQUIRE(f.put("/v1/vms/theirs", theirs, admin).status == 201);
  REQUIRE(f.call("PATCH", "/v1/servers/s1", R"({"model": "x"})", admin).status == 200);

  CHECK(keys_of(drain(*servers)) == std::vector<std::string>{"server/s1"});
  CHECK(keys_of(drain(*reader)) == std::vector<std::string>{"server/s1"});  // no vms for a reader
  // Its own tenant record (replayed) and vm, not t2's.
  CHECK(keys_of(drain(*tenant)) == std::vector<std::string>{"tenant/t1", "vm/mine"});
  // A deleted record keeps no tenant: no deletion of a vm for a tenant (as
  // in /v1/changes); the reader sees the deletion of a server.
  REQUIRE(f.call("DELETE", "/v1/vms/mine", {}, admin).status == 204);
  CHECK(tenant->queued_messages() == 0);
  REQUIRE(f.call("DELETE", "/v1/vms/theirs", {}, admin).status == 204);
  REQUIRE(f.call("DELETE", "/v1/servers/s1", {}, admin).status == 204);
  const auto deleted = drain(*reader);  // not the vm's deletion
  REQUIRE(deleted.size() == 1);
  CHECK(deleted[0]["key"] == "server/s1");
  CHECK(deleted[0]["deleted"] == true);
}

TEST_CASE("a watcher that does not read is ended at the byte cap and the others go on") {
  fixture f;
  f.seed();
  api::watch_hub hub(f.router->context());
  auto slow = hub.open(admitted(f, "/v1/watch"));
  auto fast = hub.open(admitted(f, "/v1/watch"));
  int slow_wakes = 0;
  slow->on_wake([&] { ++slow_wakes; });

  // ~100 KiB per change: accelerators with long model names.
  json accelerators = json::array();
  for (int i = 0; i < 100; ++i) accelerators.push_back({{"model", std::string(1000, 'a' + i % 26)}});
  const json body = {{"cabinet", "cab1"}, {"accelerators", accelerators}};
  std::size_t writes = 0;
  while (slow->ended() == api::watch_feed::end::none && writes < 1000) {
    REQUIRE(f.put("/v1/servers/big", body).status == (writes == 0 ? 201 : 200));
    ++writes;
    CHECK(slow->queued_bytes() <= api::watch_queue_max_bytes);
    // The fast one keeps up.
    REQUIRE(fast->next() != nullptr);
    CHECK(fast->next() == nullptr);
  }
  REQUIRE(slow->ended() == api::watch_feed::end::too_slow);
  CHECK(writes > api::watch_queue_max_bytes / 150'000);
  CHECK(slow->end_reason().rfind("watcher too slow: ", 0) == 0);
  CHECK(slow->end_reason().find("bytes queued") != std::string::npos);
  CHECK(slow->queued_bytes() == 0);  // dropped at once
  CHECK(slow->next() == nullptr);
  CHECK(slow_wakes == 2);  // first message, then the end
  CHECK(f.metrics.value("horao_watchers_closed_slow_total") == 1);

  // Later changes neither grow it nor reach it; the fast one still gets them.
  REQUIRE(f.put("/v1/servers/big", body).status == 200);
  CHECK(slow->queued_bytes() == 0);
  CHECK(fast->next() != nullptr);
}

TEST_CASE("feeds outlive a hub that goes first and never touch the store again") {
  fixture f;
  f.seed();
  auto hub = std::make_unique<api::watch_hub>(f.router->context());
  auto live = hub->open(admitted(f, "/v1/watch"));
  auto replay = hub->open(admitted(f, "/v1/watch?since=0"));
  REQUIRE(f.call("PATCH", "/v1/servers/s1", R"({"model": "x"})").status == 200);
  hub.reset();
  for (auto* feed : {live.get(), replay.get()}) {
    CHECK(feed->ended() == api::watch_feed::end::hub_gone);
    CHECK(feed->next() == nullptr);
    CHECK(feed->queued_bytes() == 0);
  }
  REQUIRE(f.call("PATCH", "/v1/servers/s1", R"({"model": "y"})").status == 200);
  live.reset();  // leaves no hub: nothing to do, nothing to crash
  replay.reset();
}

TEST_CASE("a replay overtaken by a tombstone purge ends with resync") {
  fixture f;
  f.seed();
  put_big_servers(f, 600);
  api::watch_hub hub(f.router->context());
  auto feed = hub.open(admitted(f, "/v1/watch?since=1"));
  // Take the first chunk (600 KiB of log: more than one chunk is left).
  REQUIRE(feed->next() != nullptr);
  while (feed->queued_messages() > 0) feed->next();
  REQUIRE(feed->replaying());
  // The newest change is a deletion; purging it moves the replayable start
  // past the cursor.
  REQUIRE(f.call("DELETE", "/v1/disks/d1").status == 204);
  f.time.now += 3'600'000'000;
  REQUIRE(f.store.purge_tombstones(f.time.now, 100) == 1);
  REQUIRE(feed->cursor() < f.store.oldest_replayable());
  CHECK(feed->next() == nullptr);
  CHECK(feed->ended() == api::watch_feed::end::resync);
  CHECK(feed->end_reason().rfind("resync required", 0) == 0);
}

TEST_CASE("a replay from 0 over a store purged before the watch began runs to the end") {
  fixture f;
  f.seed();
  put_big_servers(f, 600);
  // The newest change is a purged deletion: every other change of the log
  // lies below what the log can replay "without a gap".
  REQUIRE(f.call("DELETE", "/v1/disks/d1").status == 204);
  f.time.now += 3'600'000'000;
  REQUIRE(f.store.purge_tombstones(f.time.now, 100) == 1);
  api::watch_hub hub(f.router->context());
  auto feed = hub.open(admitted(f, "/v1/watch?since=0"));
  const auto items = drain(*feed);
  CHECK(feed->ended() == api::watch_feed::end::none);
  CHECK_FALSE(feed->replaying());
  CHECK(items.size() == 9 + 600);  // the seed without d1, and the servers
}
