#include <set>

#include "fixture.hpp"
#include "horao/api/openapi.hpp"

using namespace horao;
using namespace horao::api::test;

TEST_CASE("healthz, readyz while loading, and /v1/ refused until loaded") {
  bool loaded = false;
  fixture f([&](api::router_context& ctx) {
    ctx.loaded = [&](std::string* reason) {
      if (!loaded && reason) *reason = "loading 40% of records";
      return loaded;
    };
  });
  CHECK(f.get("/healthz").status == 200);
  CHECK(body_of(f.get("/healthz")) == json{{"status", "ok"}});
  auto r = f.get("/readyz");
  CHECK(r.status == 503);
  CHECK(body_of(r)["reason"] == "loading 40% of records");
  r = f.put("/v1/datacenters/dc1", {{"name", "A"}, {"number", 1}});
  CHECK(r.status == 503);
  CHECK(error_code(r) == "unavailable");
  CHECK(f.store.seq() == 0);
  loaded = true;
  CHECK(f.get("/readyz").status == 200);
  CHECK(f.put("/v1/datacenters/dc1", {{"name", "A"}, {"number", 1}}).status == 201);
}

TEST_CASE("/metrics: requests by route, records by kind, sequence, store size, orphans") {
  fixture f;
  f.seed();
  f.call("DELETE", "/v1/disks/d1");
  const auto r = f.get("/metrics");
  REQUIRE(r.status == 200);
  CHECK(r.content_type.rfind("text/plain", 0) == 0);
  const std::string& text = r.body;
  CHECK(text.find("horao_records_alive{kind=\"server\"} 1\n") != std::string::npos);
  CHECK(text.find("horao_records_alive{kind=\"disk\"} 0\n") != std::string::npos);
  CHECK(text.find("horao_records_alive{kind=\"vm\"} 0\n") != std::string::npos);
  CHECK(text.find("horao_store_seq " + std::to_string(f.store.seq()) + "\n") != std::string::npos);
  CHECK(text.find("horao_store_records " + std::to_string(f.store.size()) + "\n") != std::string::npos);
  CHECK(text.find("horao_orphans 0\n") != std::string::npos);
  CHECK(text.find(
            "horao_http_requests_total{route=\"/v1/{collection}/{id}\",method=\"PUT\",status=\"201\"} 10") !=
        std::string::npos);
  CHECK(
      text.find("horao_http_request_duration_seconds_bucket{route=\"/v1/{collection}/{id}\",le=\"+Inf\"}") !=
      std::string::npos);
}

TEST_CASE("/openapi.json is an OpenAPI 3.0 document with every route and kind") {
  fixture f;
  const auto r = f.get("/openapi.json");
  REQUIRE(r.status == 200);
  const auto doc = body_of(r);
  CHECK(doc["openapi"].get<std::string>().rfind("3.0", 0) == 0);
  CHECK(doc["info"].contains("title"));
  CHECK(doc["info"].contains("version"));
  const auto& paths = doc["paths"];
  for (const char* p :
       {"/healthz", "/readyz", "/metrics", "/openapi.json", "/v1/cluster", "/v1/cluster/sync", "/v1/changes",
        "/v1/batch", "/v1/servers", "/v1/servers/{id}", "/v1/vms/{id}", "/v1/datacenters/{id}/tree"})
    CHECK(paths.contains(p));
  CHECK(paths["/v1/servers/{id}"]["put"]["requestBody"]["content"]["application/json"]["schema"]["$ref"] ==
        "#/components/schemas/server");
  CHECK(doc["components"]["schemas"]["server"]["additionalProperties"] == false);
  CHECK(paths["/healthz"]["get"]["security"] == json::array());

  // Every $ref resolves, and operation ids are unique.
  std::set<std::string> operation_ids;
  std::function<void(const json&)> walk = [&](const json& j) {
    if (j.is_object()) {
      if (auto it = j.find("$ref"); it != j.end()) {
        const std::string ref = *it;
        REQUIRE(ref.rfind("#/", 0) == 0);
        CHECK(doc.contains(json::json_pointer(ref.substr(1))));
      }
      for (const auto& [k, v] : j.items()) walk(v);
    } else if (j.is_array()) {
      for (const auto& v : j) walk(v);
    }
  };
  walk(doc);
  for (const auto& [path, item] : paths.items()) {
    for (const auto& [method, op] : item.items()) {
      CHECK(operation_ids.insert(op["operationId"].get<std::string>()).second);
      CHECK(op.contains("responses"));
      // Path parameters are declared.
      if (path.find("{id}") != std::string::npos) {
        bool declared = false;
        for (const auto& p : op["parameters"])
          declared = declared || (p["name"] == "id" && p["in"] == "path");
        CHECK(declared);
      }
    }
  }
}

TEST_CASE("every path and method of /openapi.json is answered by the router") {
  fixture f;
  f.seed();
  const auto doc = json::parse(api::openapi_text());
  std::size_t checked = 0;
  for (const auto& [path, item] : doc["paths"].items()) {
    std::string target = path;
    if (const auto at = target.find("{id}"); at != std::string::npos) target.replace(at, 4, "x1");
    for (const auto& [method, op] : item.items()) {
      std::string upper = method;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      INFO(upper << " " << target);
      const auto r = f.call(upper, target, "{}");
      CHECK(r.status != 405);
      CHECK(error_code(r) != "unknown_collection");
      CHECK(r.status != 500);
      ++checked;
    }
  }
  CHECK(checked >= 4 + 4 + 15 * 5 + 1);
}
