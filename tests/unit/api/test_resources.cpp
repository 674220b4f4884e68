#include "fixture.hpp"
#include "horao/crdt/hlc.hpp"

using namespace horao;
using namespace horao::api::test;

TEST_CASE("PUT creates (201) then replaces (200); GET shows kind, id, fields and meta") {
  fixture f;
  f.seed();
  const auto created = f.put("/v1/servers/s2", {{"cabinet", "cab1"}, {"serial_number", "SN-2"}});
  REQUIRE(created.status == 201);
  CHECK(header(created, "Location") == "/v1/servers/s2");
  const auto body = body_of(created);
  CHECK(body["kind"] == "server");
  CHECK(body["id"] == "s2");
  CHECK(body["cabinet"] == "cab1");
  CHECK(body["status"] == "up");  // default filled in
  const auto* entry = f.store.find_alive("server/s2");
  REQUIRE(entry);
  CHECK(body["meta"]["seq"] == entry->seq);
  CHECK(body["meta"]["created"] == crdt::to_string(entry->state.created()));
  CHECK(body["meta"]["updated"] == crdt::to_string(entry->state.updated()));
  CHECK(header(created, "ETag") == "\"" + std::to_string(entry->seq) + "\"");

  const auto got = f.get("/v1/servers/s2");
  REQUIRE(got.status == 200);
  CHECK(body_of(got) == body);
  CHECK(header(got, "ETag") == header(created, "ETag"));

  const auto replaced = f.put("/v1/servers/s2", {{"cabinet", "cab1"}, {"model", "R760"}});
  REQUIRE(replaced.status == 200);
  const auto after = body_of(f.get("/v1/servers/s2"));
  CHECK(after["model"] == "R760");
  CHECK_FALSE(after.contains("serial_number"));  // replace drops what the new body lacks
  CHECK(after["meta"]["created"] != body["meta"]["created"]);
}

TEST_CASE("GET splices stored values exactly as JSON") {
  fixture f;
  f.seed();
  const auto got = f.get("/v1/servers/s1");
  REQUIRE(got.status == 200);
  const auto j = body_of(got);
  CHECK(j["cpus"][0]["clock_ghz"] == 3.1);
  CHECK(j["ram"][0]["size_gb"] == 512);
  // One member each, in a parseable document.
  CHECK(got.body.find("\"kind\"") == got.body.rfind("\"kind\""));
  CHECK(j.size() == 7);  // kind, id, cabinet, cpus, ram, status, meta
}

TEST_CASE("PUT accepts kind, id and meta echoed back from a GET") {
  fixture f;
  f.seed();
  auto echoed = body_of(f.get("/v1/servers/s1"));
  echoed["model"] = "X";
  const auto r = f.put("/v1/servers/s1", echoed);
  REQUIRE(r.status == 200);
  CHECK(body_of(r)["model"] == "X");
  CHECK_FALSE(f.store.find_alive("server/s1")->state.find("meta"));
  CHECK_FALSE(f.store.find_alive("server/s1")->state.find("kind"));
}

TEST_CASE("stored field values are compact JSON, one per top-level member") {
  fixture f;
  f.seed();
  const auto* entry = f.store.find_alive("server/s1");
  REQUIRE(entry);
  CHECK(entry->state.find("cabinet")->value == "\"cab1\"");
  CHECK(entry->state.find("cpus")->value == R"([{"clock_ghz":3.1,"cores":64,"model":"EPYC 9554"}])");
}

TEST_CASE("PATCH merges, removes with null, validates the whole and writes only what changed") {
  fixture f;
  f.seed();
  f.put("/v1/servers/s2", {{"cabinet", "cab1"}, {"serial_number", "SN"}, {"model", "M1"}});
  const auto* before = f.store.find_alive("server/s2");
  const auto cabinet_stamp = before->state.find("cabinet")->stamp;
  const auto model_stamp = before->state.find("model")->stamp;

  const auto r = f.call("PATCH", "/v1/servers/s2", R"({"serial_number":null,"status":"down"})",
                        {.content_type = "application/merge-patch+json"});
  REQUIRE(r.status == 200);
  const auto j = body_of(r);
  CHECK_FALSE(j.contains("serial_number"));
  CHECK(j["status"] == "down");
  CHECK(j["model"] == "M1");
  const auto* after = f.store.find_alive("server/s2");
  // Untouched fields keep their stamps: concurrent patches of other fields survive.
  CHECK(after->state.find("cabinet")->stamp == cabinet_stamp);
  CHECK(after->state.find("model")->stamp == model_stamp);
  CHECK(after->state.find("status")->stamp > model_stamp);

  // Nested objects merge recursively: tenant constraints.
  f.put("/v1/tenants/t2", {{"owner", "bob"}, {"constraints", {{"cpu", 10}, {"ram_gb", 20}}}});
  const auto p =
      f.call("PATCH", "/v1/tenants/t2", R"({"constraints":{"cpu":12,"ram_gb":null,"block_tb":1.5}})");
  REQUIRE(p.status == 200);
  CHECK(body_of(p)["constraints"] == json{{"cpu", 12}, {"block_tb", 1.5}});
}

TEST_CASE("a PATCH that changes nothing writes nothing") {
  fixture f;
  f.seed();
  const auto mark = f.mark();
  const auto r = f.call("PATCH", "/v1/servers/s1", R"({"status":"up"})");
  REQUIRE(r.status == 200);
  CHECK(f.mark() == mark);
}

TEST_CASE("PATCH refusals: absent resource, invalid result") {
  fixture f;
  f.seed();
  const auto mark = f.mark();
  auto r = f.call("PATCH", "/v1/servers/nope", R"({"status":"down"})");
  CHECK(r.status == 404);
  CHECK(error_code(r) == "not_found");
  r = f.call("PATCH", "/v1/servers/s1", R"({"cabinet":null})");
  CHECK(r.status == 422);
  CHECK(error_field(r) == "/cabinet");
  r = f.call("PATCH", "/v1/servers/s1", R"({"cpus":[{"cores":0}]})");
  CHECK(r.status == 422);
  CHECK(error_field(r) == "/cpus/0/cores");
  CHECK(f.mark() == mark);
}

TEST_CASE("DELETE answers 204, then the resource is gone; 404 when absent") {
  fixture f;
  f.seed();
  auto r = f.call("DELETE", "/v1/disks/d1");
  CHECK(r.status == 204);
  CHECK(r.body.empty());
  CHECK(f.get("/v1/disks/d1").status == 404);
  CHECK(error_code(f.get("/v1/disks/d1")) == "not_found");
  r = f.call("DELETE", "/v1/disks/d1");
  CHECK(r.status == 404);
  // A PUT brings it back clean.
  CHECK(f.put("/v1/disks/d1", {{"machine", "server/s1"}, {"capacity_tb", 2}}).status == 201);
}

TEST_CASE("DELETE of a resource with live children is refused with 409 has_children") {
  fixture f;
  f.seed();
  const auto mark = f.mark();
  const auto r = f.call("DELETE", "/v1/cabinets/cab1");
  CHECK(r.status == 409);
  CHECK(error_code(r) == "has_children");
  const std::string message = body_of(r)["error"]["message"];
  CHECK(message.find("server/s1") != std::string::npos);
  CHECK(message.find("chassis/ch1") != std::string::npos);
  CHECK(f.mark() == mark);
  // Children first, then the parent.
  CHECK(f.call("DELETE", "/v1/disks/d1").status == 204);
  CHECK(f.call("DELETE", "/v1/servers/s1").status == 204);
}

TEST_CASE("the has_children message lists at most ten children") {
  fixture f;
  f.seed();
  for (int i = 0; i < 15; ++i) f.put("/v1/servers/x" + std::to_string(i), {{"cabinet", "cab1"}});
  const auto r = f.call("DELETE", "/v1/cabinets/cab1");
  REQUIRE(r.status == 409);
  const std::string message = body_of(r)["error"]["message"];
  CHECK(message.find("18 live children") != std::string::npos);
  const std::string listing = message.substr(message.find("first: "));
  std::size_t listed = 0;
  for (std::size_t at = listing.find('/'); at != std::string::npos; at = listing.find('/', at + 1)) ++listed;
  CHECK(listed == 10);
}

TEST_CASE("ETag and If-Match guard PUT, PATCH and DELETE") {
  fixture f;
  f.seed();
  const std::string etag = header(f.get("/v1/servers/s1"), "ETag");
  const auto mark = f.mark();

  auto r = f.put("/v1/servers/s1", fixture::server_body(), {.if_match = "\"12345\""});
  CHECK(r.status == 412);
  CHECK(error_code(r) == "precondition_failed");
  r = f.call("PATCH", "/v1/servers/s1", R"({"status":"down"})", {.if_match = "W/" + etag});
  CHECK(r.status == 412);  // weak tags never match
  r = f.call("DELETE", "/v1/servers/s1", {}, {.if_match = "\"1\", \"2\""});
  CHECK(r.status == 412);
  r = f.put("/v1/servers/new", {{"cabinet", "cab1"}}, {.if_match = "*"});
  CHECK(r.status == 412);  // * needs a live resource
  CHECK(f.mark() == mark);

  r = f.call("PATCH", "/v1/servers/s1", R"({"status":"down"})", {.if_match = "\"0\", " + etag});
  REQUIRE(r.status == 200);
  const std::string next = header(r, "ETag");
  CHECK(next != etag);
  r = f.put("/v1/servers/s1", fixture::server_body(), {.if_match = etag});
  CHECK(r.status == 412);  // stale now
  r = f.put("/v1/servers/s1", fixture::server_body(), {.if_match = "*"});
  CHECK(r.status == 200);
  f.call("DELETE", "/v1/disks/d1");
  r = f.call("DELETE", "/v1/servers/s1", {}, {.if_match = header(f.get("/v1/servers/s1"), "ETag")});
  CHECK(r.status == 204);
}

TEST_CASE("a write is refused with 503 while it cannot be persisted, changing nothing") {
  fixture f;
  f.seed();
  f.durability.accepting = false;
  const auto mark = f.mark();
  for (auto [method, target, body] : std::initializer_list<std::tuple<const char*, const char*, const char*>>{
           {"PUT", "/v1/servers/s9", R"({"cabinet":"cab1"})"},
           {"PATCH", "/v1/servers/s1", R"({"status":"down"})"},
           {"DELETE", "/v1/disks/d1", ""},
           {"POST", "/v1/batch", R"({"operations":[{"op":"delete","key":"disk/d1"}]})"}}) {
    INFO(method << " " << target);
    const auto r = f.call(method, target, body);
    CHECK(r.status == 503);
    CHECK(error_code(r) == "unavailable");
    CHECK(body_of(r)["error"]["message"].get<std::string>().find("redis unreachable") != std::string::npos);
  }
  CHECK(f.mark() == mark);
  CHECK(f.get("/v1/servers/s1").status == 200);  // reads still served
  CHECK(f.get("/readyz").status == 503);
  f.durability.accepting = true;
  CHECK(f.get("/readyz").status == 200);
}

TEST_CASE("a write is answered only once durable; 503 when durability fails") {
  fixture f;
  f.seed();
  f.durability.hold = true;
  auto pending = f.try_call("PUT", "/v1/servers/s9", R"({"cabinet":"cab1"})");
  CHECK_FALSE(pending.has_value());  // not acknowledged yet
  REQUIRE(f.durability.held.size() == 1);
  CHECK(f.durability.held[0].first == f.store.find_alive("server/s9")->seq);

  std::optional<api::response> answer;
  api::request req;
  req.method = "DELETE";
  req.target = "/v1/servers/s9";
  f.router->handle(req, [&](api::response r) { answer = std::move(r); });
  CHECK_FALSE(answer);
  f.durability.release(false);
  REQUIRE(answer);
  CHECK(answer->status == 503);
  CHECK(error_code(*answer) == "unavailable");
}

TEST_CASE(
    "reservations: stored like other kinds, status from the scheduler hook, admission may refuse or amend") {
  std::string refuse_id;
  fixture f([&](api::router_context& ctx) {
    ctx.admit_reservation = [&](std::string_view id, nlohmann::json& body, bool,
                                const api::principal&) -> std::optional<api::api_error> {
      if (id == refuse_id) return api::api_error{409, "insufficient_capacity", "cpu short by 4", ""};
      if (!body.contains("start")) body["start"] = "2026-06-01T00:00:00Z";
      return std::nullopt;
    };
    ctx.reservation_status_of = [](std::string_view id, const crdt::record&) {
      return id == "r2" ? api::reservation_status{"conflicted", "overbooked with r1"}
                        : api::reservation_status{};
    };
  });
  f.seed();
  const json body = {{"tenant", "t1"}, {"resources", {{{"type", "compute"}, {"cpu", 2}, {"ram_gb", 4}}}}};
  auto r = f.put("/v1/reservations/r1", body);
  REQUIRE(r.status == 201);
  auto j = body_of(r);
  CHECK(j["status"] == "accepted");
  CHECK(j["start"] == "2026-06-01T00:00:00Z");
  CHECK_FALSE(j.contains("conflict"));
  CHECK(f.put("/v1/reservations/r2", body).status == 201);
  j = body_of(f.get("/v1/reservations/r2"));
  CHECK(j["status"] == "conflicted");
  CHECK(j["conflict"] == "overbooked with r1");
  // A client echoing status back is fine; it is not stored.
  auto echoed = j;
  echoed["status"] = "accepted";
  CHECK(f.put("/v1/reservations/r2", echoed).status == 200);
  CHECK_FALSE(f.store.find_alive("reservation/r2")->state.find("status"));

  refuse_id = "r3";
  const auto mark = f.mark();
  r = f.put("/v1/reservations/r3", body);
  CHECK(r.status == 409);
  CHECK(error_code(r) == "insufficient_capacity");
  CHECK(f.mark() == mark);
  // Listing filters on the computed status.
  j = body_of(f.get("/v1/reservations?status=conflicted"));
  REQUIRE(j["items"].size() == 1);
  CHECK(j["items"][0]["id"] == "r2");
}

TEST_CASE("requests are counted by route template, never by raw path") {
  fixture f;
  f.seed();
  f.get("/v1/servers/s1");
  f.get("/v1/servers/nope");
  f.get("/v1/some-junk-path-123");
  f.call("BREW", "/v1/servers/s1");
  CHECK(f.metrics.value("horao_http_requests_total",
                        {{"route", "/v1/{collection}/{id}"}, {"method", "GET"}, {"status", "200"}}) == 1);
  CHECK(f.metrics.value("horao_http_requests_total",
                        {{"route", "/v1/{collection}/{id}"}, {"method", "GET"}, {"status", "404"}}) == 1);
  CHECK(f.metrics.value("horao_http_requests_total",
                        {{"route", "unmatched"}, {"method", "GET"}, {"status", "404"}}) == 1);
  CHECK(f.metrics.value("horao_http_requests_total",
                        {{"route", "/v1/{collection}/{id}"}, {"method", "OTHER"}, {"status", "405"}}) == 1);
  const std::string text = f.metrics.render();
  CHECK(text.find("some-junk") == std::string::npos);
  CHECK(text.find("/v1/servers/s1") == std::string::npos);
}

TEST_CASE("an exception inside a handler is answered 500 once, with nothing changed") {
  fixture f([](api::router_context& ctx) {
    ctx.admit_reservation = [](std::string_view, nlohmann::json&, bool,
                               const api::principal&) -> std::optional<api::api_error> {
      throw std::runtime_error("scheduler bug with a secret detail");
    };
  });
  f.seed();
  const auto mark = f.mark();
  const auto r = f.put("/v1/reservations/r1",
                       {{"tenant", "t1"}, {"resources", {{{"type", "compute"}, {"cpu", 1}, {"ram_gb", 1}}}}});
  CHECK(r.status == 500);
  CHECK(error_code(r) == "internal");
  CHECK(r.body.find("secret") == std::string::npos);
  CHECK(f.mark() == mark);
  CHECK(f.get("/v1/servers/s1").status == 200);
}
