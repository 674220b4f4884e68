#include "fixture.hpp"

using namespace horao;
using namespace horao::api::test;

namespace {


const options& admin = as_admin;
const options& reader = as_reader;
const options& t1 = as_t1;
const options& t2 = as_t2;

const json vm_of_t1 = {{"host", "server/s1"}, {"cpu", 2}, {"ram_gb", 4}, {"tenant", "t1"}};
const json reservation_of_t1 = {{"tenant", "t1"},
                                {"resources", {{{"type", "compute"}, {"cpu", 2}, {"ram_gb", 4}}}}};

struct secured : fixture {
  secured() : fixture([](api::router_context& ctx) { ctx.tokens = role_tokens(); }) {
    // Seed as admin.
    const auto seed_put = [&](const std::string& target, const json& body) {
      REQUIRE(put(target, body, admin).status == 201);
    };
    seed_put("/v1/datacenters/dc1", {{"name", "A"}, {"number", 1}});
    seed_put("/v1/cabinets/cab1", {{"datacenter", "dc1"}, {"row", 1}, {"position", 1}});
    seed_put("/v1/servers/s1", {{"cabinet", "cab1"}});
    seed_put("/v1/tenants/t1", {{"owner", "alice"}});
    seed_put("/v1/tenants/t2", {{"owner", "bob"}});
    seed_put("/v1/vms/vm1", vm_of_t1);
    seed_put("/v1/vms/vm2", {{"host", "server/s1"}, {"cpu", 1}, {"ram_gb", 1}, {"tenant", "t2"}});
    seed_put("/v1/reservations/r1", reservation_of_t1);
  }
};

}  // namespace

TEST_CASE("with tokens, /v1/ needs a valid bearer token; health, readiness and metrics do not") {
  secured f;
  const auto mark = f.mark();
  for (const char* target : {"/v1/servers", "/v1/servers/s1", "/v1/cluster", "/v1/changes", "/v1/nonsense",
                             "/v1/servers/-bad", "/v1/datacenters/dc1/tree"}) {
    INFO(target);
    auto r = f.get(target);
    CHECK(r.status == 401);
    CHECK(error_code(r) == "unauthorized");
    CHECK(header(r, "WWW-Authenticate") == "Bearer");
    r = f.get(target, {.authorization = "Bearer wrong-token"});
    CHECK(r.status == 401);
    CHECK(r.body.find("wrong-token") == std::string::npos);  // never echoed
  }
  CHECK(f.call("DELETE", "/v1/servers/s1").status == 401);
  CHECK(f.put("/v1/servers/s2", {{"cabinet", "cab1"}}).status == 401);
  CHECK(f.mark() == mark);
  CHECK(f.get("/healthz").status == 200);
  CHECK(f.get("/readyz").status == 200);
  CHECK(f.get("/metrics").status == 200);
  CHECK(f.get("/openapi.json").status == 200);
  CHECK(f.metrics.render().find("admin-token") == std::string::npos);
}

TEST_CASE("admin may do everything") {
  secured f;
  CHECK(f.get("/v1/vms/vm2", admin).status == 200);
  CHECK(f.get("/v1/reservations/r1", admin).status == 200);
  CHECK(f.put("/v1/servers/s2", {{"cabinet", "cab1"}}, admin).status == 201);
  CHECK(f.call("POST", "/v1/cluster/sync", {}, admin).status == 202);
}

TEST_CASE("reader reads everything except reservations and vms, and writes nothing") {
  secured f;
  const auto mark = f.mark();
  CHECK(f.get("/v1/servers/s1", reader).status == 200);
  CHECK(f.get("/v1/tenants/t2", reader).status == 200);
  CHECK(f.get("/v1/datacenters/dc1/tree", reader).status == 200);
  CHECK(f.get("/v1/cluster", reader).status == 200);
  for (const char* target : {"/v1/vms", "/v1/vms/vm1", "/v1/reservations", "/v1/reservations/r1"}) {
    INFO(target);
    const auto r = f.get(target, reader);
    CHECK(r.status == 403);
    CHECK(error_code(r) == "forbidden");
  }
  CHECK(f.put("/v1/servers/s2", {{"cabinet", "cab1"}}, reader).status == 403);
  CHECK(f.call("DELETE", "/v1/servers/s1", {}, reader).status == 403);
  CHECK(f.call("PATCH", "/v1/servers/s1", R"({"status":"down"})", reader).status == 403);
  CHECK(f.call("POST", "/v1/batch", R"({"operations":[]})", reader).status == 403);
  CHECK(f.call("POST", "/v1/cluster/sync", {}, reader).status == 403);
  CHECK(f.mark() == mark);
  // The change feed leaves out what a reader may not read.
  const auto changes = body_of(f.get("/v1/changes?limit=1000", reader))["changes"];
  CHECK(changes.size() == f.store.size() - 3);
  for (const auto& c : changes) {
    const std::string key = c["key"];
    CHECK(key.rfind("vm/", 0) == std::string::npos);
    CHECK(key.rfind("reservation/", 0) == std::string::npos);
  }
}

TEST_CASE("a tenant reads like a reader plus its own vms and reservations, and writes only those") {
  secured f;
  CHECK(f.get("/v1/servers/s1", t1).status == 200);
  CHECK(f.get("/v1/vms/vm1", t1).status == 200);
  CHECK(f.get("/v1/reservations/r1", t1).status == 200);
  CHECK(f.get("/v1/tenants/t1", t1).status == 200);
  // Nothing of other tenants.
  CHECK(f.get("/v1/vms/vm2", t1).status == 403);
  CHECK(f.get("/v1/tenants/t2", t1).status == 403);
  CHECK(f.get("/v1/reservations/r1", t2).status == 403);
  auto listed = body_of(f.get("/v1/vms", t1))["items"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["id"] == "vm1");
  listed = body_of(f.get("/v1/tenants", t2))["items"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["id"] == "t2");
  for (const auto& c : body_of(f.get("/v1/changes?limit=1000", t2))["changes"]) {
    const std::string key = c["key"];
    CHECK(key != "vm/vm1");
    CHECK(key != "reservation/r1");
    CHECK(key != "tenant/t1");
  }

  const auto mark = f.mark();
  // Not its own, or not a tenant-owned kind: refused, nothing changes.
  CHECK(
      f.put("/v1/vms/vm3", {{"host", "server/s1"}, {"cpu", 1}, {"ram_gb", 1}, {"tenant", "t2"}}, t1).status ==
      403);
  CHECK(f.put("/v1/vms/vm3", {{"host", "server/s1"}, {"cpu", 1}, {"ram_gb", 1}}, t1).status == 403);
  CHECK(f.put("/v1/vms/vm2", vm_of_t1, t1).status == 403);  // taking over another tenant's vm
  CHECK(f.call("PATCH", "/v1/vms/vm1", R"({"tenant":"t2"})", t1).status == 403);
  CHECK(f.call("DELETE", "/v1/vms/vm2", {}, t1).status == 403);
  CHECK(f.put("/v1/servers/s2", {{"cabinet", "cab1"}}, t1).status == 403);
  CHECK(f.put("/v1/tenants/t1", {{"owner", "mallory"}}, t1).status == 403);
  CHECK(f.call("POST", "/v1/batch", json{{"operations", {{{"op", "delete"}, {"key", "vm/vm2"}}}}}.dump(), t1)
            .status == 403);
  CHECK(f.mark() == mark);

  // Its own: allowed.
  CHECK(
      f.put("/v1/vms/vm3", {{"host", "server/s1"}, {"cpu", 1}, {"ram_gb", 1}, {"tenant", "t1"}}, t1).status ==
      201);
  CHECK(f.call("PATCH", "/v1/vms/vm3", R"({"status":"stopped"})", t1).status == 200);
  CHECK(f.put("/v1/reservations/r2", reservation_of_t1, t1).status == 201);
  CHECK(f.call("DELETE", "/v1/vms/vm3", {}, t1).status == 204);
  CHECK(f.call("POST", "/v1/batch",
               json{{"operations", {{{"op", "put"}, {"key", "vm/vm4"}, {"body", vm_of_t1}}}}}.dump(), t1)
            .status == 200);
}
