// The table of bad requests (issue 3 item 8): each gets its status and code,
// leaves the state exactly as it was (sequence and digest), and the daemon
// still serves a valid request afterwards.
#include "fixture.hpp"

using namespace horao;
using namespace horao::api::test;

namespace {

struct bad_request {
  const char* what;
  std::string method;
  std::string target;
  std::string body;
  int status;
  std::string code;
  std::string field = {};  // expected JSON pointer, when the refusal is about one field
  std::string content_type = "application/json";
  std::string if_match = {};
};

std::string nested(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

std::vector<bad_request> table(std::size_t max_body) {
  const std::string server = R"({"cabinet":"cab1"})";
  return {
      // ---- malformed JSON ----
      {"truncated JSON", "PUT", "/v1/servers/s2", "{\"cabinet\":", 400, "bad_json"},
      {"empty body", "PUT", "/v1/servers/s2", "", 400, "bad_json"},
      {"trailing comma", "PUT", "/v1/servers/s2", R"({"cabinet":"cab1",})", 400, "bad_json"},
      {"single quotes", "PUT", "/v1/servers/s2", "{'cabinet':'cab1'}", 400, "bad_json"},
      {"trailing garbage", "PUT", "/v1/servers/s2", server + "x", 400, "bad_json"},
      {"array body", "PUT", "/v1/servers/s2", "[]", 400, "bad_json"},
      {"string body", "PUT", "/v1/servers/s2", "\"cab1\"", 400, "bad_json"},
      {"null body", "PUT", "/v1/servers/s2", "null", 400, "bad_json"},
      {"broken UTF-8", "PUT", "/v1/servers/s2", "{\"cabinet\":\"cab1\",\"model\":\"\xc3\x28\"}", 400,
       "bad_json"},
      {"overlong UTF-8", "PUT", "/v1/servers/s2", "{\"cabinet\":\"cab1\",\"model\":\"\xc0\xaf\"}", 400,
       "bad_json"},
      {"lone surrogate escape", "PUT", "/v1/servers/s2", R"({"cabinet":"cab1","model":"\ud800"})", 400,
       "bad_json"},
      {"raw control character", "PUT", "/v1/servers/s2",
       "{\"cabinet\":\"ca\x01"
       "b1\"}",
       400, "bad_json"},
      {"duplicate member", "PUT", "/v1/servers/s2", R"({"cabinet":"cab1","cabinet":"cab2"})", 400,
       "bad_json"},
      {"nesting 65 deep", "PUT", "/v1/servers/s2", "{\"cabinet\":\"cab1\",\"model\":" + nested(64) + "}", 400,
       "bad_json"},
      {"nesting 60000 deep", "PUT", "/v1/servers/s2", std::string(60'000, '['), 400, "bad_json"},
      {"number overflow", "PUT", "/v1/servers/s2", R"({"cabinet":"cab1","cpus":[{"cores":1e400}]})", 400,
       "bad_json"},
      {"NaN literal", "PUT", "/v1/servers/s2", R"({"cabinet":"cab1","cpus":[{"cores":NaN}]})", 400,
       "bad_json"},
      {"PATCH with an array", "PATCH", "/v1/servers/s1", "[]", 400, "bad_json"},
      {"batch not an object", "POST", "/v1/batch", "[]", 400, "bad_json"},
      // ---- wrong types, missing and unknown fields, ranges, references ----
      {"huge integer", "PUT", "/v1/servers/s2",
       R"({"cabinet":"cab1","cpus":[{"cores":123456789012345678901234567890}]})", 422, "validation_failed",
       "/cpus/0/cores"},
      {"wrong type", "PUT", "/v1/servers/s2", R"({"cabinet":5})", 422, "validation_failed", "/cabinet"},
      {"missing required", "PUT", "/v1/servers/s2", R"({"model":"x"})", 422, "validation_failed", "/cabinet"},
      {"unknown field", "PUT", "/v1/servers/s2", R"({"cabinet":"cab1","colour":"red"})", 422,
       "validation_failed", "/colour"},
      {"out of range", "PUT", "/v1/servers/s2", R"({"cabinet":"cab1","cpus":[{"cores":0}]})", 422,
       "validation_failed", "/cpus/0/cores"},
      {"bad enum", "PUT", "/v1/servers/s2", R"({"cabinet":"cab1","status":"sideways"})", 422,
       "validation_failed", "/status"},
      {"dangling reference", "PUT", "/v1/servers/s2", R"({"cabinet":"nope"})", 422, "validation_failed",
       "/cabinet"},
      {"key of the wrong kind", "PUT", "/v1/disks/d2", R"({"machine":"switch/sw1","capacity_tb":1})", 422,
       "validation_failed", "/machine"},
      {"negative capacity", "PUT", "/v1/disks/d2", R"({"machine":"server/s1","capacity_tb":-1})", 422,
       "validation_failed", "/capacity_tb"},
      {"end before start", "PUT", "/v1/maintenances/m1",
       R"({"start":"2026-12-02T00:00:00Z","end":"2026-12-01T00:00:00Z","reason":"x","targets":["server/s1"]})",
       422, "validation_failed"},
      {"bad time", "PUT", "/v1/maintenances/m1",
       R"({"start":"yesterday","end":"2026-12-01T00:00:00Z","reason":"x","targets":["server/s1"]})", 422,
       "validation_failed", "/start"},
      {"kind mismatch", "PUT", "/v1/servers/s2", R"({"kind":"switch","cabinet":"cab1"})", 422,
       "validation_failed", "/kind"},
      {"meta not an object", "PUT", "/v1/servers/s2", R"({"meta":1,"cabinet":"cab1"})", 422,
       "validation_failed", "/meta"},
      {"PATCH removes a required field", "PATCH", "/v1/servers/s1", R"({"cabinet":null})", 422,
       "validation_failed", "/cabinet"},
      // ---- ids ----
      {"body id differs", "PUT", "/v1/servers/s2", R"({"id":"s3","cabinet":"cab1"})", 400, "invalid_id",
       "/id"},
      {"id starts with a dash", "PUT", "/v1/servers/-s2", server, 400, "invalid_id"},
      {"id too long", "PUT", "/v1/servers/" + std::string(129, 'a'), server, 400, "invalid_id"},
      {"encoded slash in id", "PUT", "/v1/servers/a%2Fb", server, 400, "invalid_id"},
      {"space in id", "GET", "/v1/servers/a%20b", "", 400, "invalid_id"},
      {"empty id", "DELETE", "/v1/servers/", "", 400, "invalid_id"},
      // ---- media type and size ----
      {"text/plain", "PUT", "/v1/servers/s2", server, 415, "unsupported_media_type", "", "text/plain"},
      {"no content type", "PUT", "/v1/servers/s2", server, 415, "unsupported_media_type", "", ""},
      {"latin1 charset", "PUT", "/v1/servers/s2", server, 415, "unsupported_media_type", "",
       "application/json; charset=iso-8859-1"},
      {"merge-patch type on PUT", "PUT", "/v1/servers/s2", server, 415, "unsupported_media_type", "",
       "application/merge-patch+json"},
      {"form on batch", "POST", "/v1/batch", "{}", 415, "unsupported_media_type", "",
       "application/x-www-form-urlencoded"},
      {"body too large", "PUT", "/v1/servers/s2",
       R"({"cabinet":"cab1","model":")" + std::string(max_body, 'x') + "\"}", 413, "body_too_large"},
      // ---- paths and methods ----
      {"unknown collection", "GET", "/v1/serverz", "", 404, "unknown_collection"},
      {"unknown version", "GET", "/v2/servers", "", 404, "unknown_collection"},
      {"too many segments", "GET", "/v1/servers/s1/disks", "", 404, "unknown_collection"},
      {"tree of a cabinet", "GET", "/v1/cabinets/cab1/tree", "", 404, "unknown_collection"},
      {"POST on a resource", "POST", "/v1/servers/s1", server, 405, "method_not_allowed"},
      {"DELETE on a collection", "DELETE", "/v1/servers", "", 405, "method_not_allowed"},
      {"unknown method", "BREW", "/v1/servers/s1", "", 405, "method_not_allowed"},
      {"GET on batch", "GET", "/v1/batch", "", 405, "method_not_allowed"},
      // ---- query parameters ----
      {"limit 0", "GET", "/v1/servers?limit=0", "", 400, "bad_query"},
      {"limit 1001", "GET", "/v1/servers?limit=1001", "", 400, "bad_query"},
      {"limit not a number", "GET", "/v1/servers?limit=ten", "", 400, "bad_query"},
      {"limit twice", "GET", "/v1/servers?limit=1&limit=2", "", 400, "bad_query"},
      {"unknown filter", "GET", "/v1/servers?colour=red", "", 400, "bad_query"},
      {"filter on an array", "GET", "/v1/servers?cpus=1", "", 400, "bad_query"},
      {"filter of the wrong type", "GET", "/v1/cabinets?row=three", "", 400, "bad_query"},
      {"filter on a bad enum", "GET", "/v1/servers?status=sideways", "", 400, "bad_query"},
      {"bad percent escape", "GET", "/v1/servers?status=%zz", "", 400, "bad_query"},
      {"after not an id", "GET", "/v1/servers?after=-x", "", 400, "bad_query"},
      {"stray ampersand", "GET", "/v1/servers?limit=1&&after=a", "", 400, "bad_query"},
      {"parameter on a resource", "GET", "/v1/servers/s1?pretty=1", "", 400, "bad_query"},
      {"since negative", "GET", "/v1/changes?since=-1", "", 400, "bad_query"},
      {"unknown parameter on changes", "GET", "/v1/changes?kind=server", "", 400, "bad_query"},
      // ---- state ----
      {"PATCH of an absent resource", "PATCH", "/v1/servers/nope", R"({"status":"down"})", 404, "not_found"},
      {"DELETE of an absent resource", "DELETE", "/v1/servers/nope", "", 404, "not_found"},
      {"DELETE of a parent", "DELETE", "/v1/datacenters/dc1", "", 409, "has_children"},
      {"stale If-Match", "PUT", "/v1/servers/s1", server, 412, "precondition_failed", "", "application/json",
       "\"1\""},
      {"tree of an absent datacenter", "GET", "/v1/datacenters/nope/tree", "", 404, "not_found"},
      // ---- batches ----
      {"batch without operations", "POST", "/v1/batch", "{}", 422, "validation_failed", "/operations"},
      {"batch with an unknown member", "POST", "/v1/batch", R"({"operations":[],"x":1})", 422,
       "validation_failed", "/x"},
      {"batch op unknown", "POST", "/v1/batch",
       R"({"operations":[{"op":"upsert","key":"server/s2","body":{}}]})", 422, "validation_failed",
       "/operations/0/op"},
      {"batch key malformed", "POST", "/v1/batch",
       R"({"operations":[{"op":"put","key":"server","body":{}}]})", 422, "validation_failed",
       "/operations/0/key"},
      {"batch with a reservation", "POST", "/v1/batch",
       R"({"operations":[{"op":"put","key":"reservation/r1","body":{"tenant":"t1","resources":[{"type":"compute","cpu":1,"ram_gb":1}]}}]})",
       422, "validation_failed", "/operations/0/key"},
      {"batch second op invalid", "POST", "/v1/batch",
       R"({"operations":[{"op":"put","key":"cabinet/c2","body":{"datacenter":"dc1","row":1,"position":1}},)"
       R"({"op":"put","key":"cabinet/c3","body":{"datacenter":"dc1","row":0,"position":1}}]})",
       422, "validation_failed", "/operations/1/body/row"},
  };
}

}  // namespace

TEST_CASE("bad requests: status, code and field as API.md says, and nothing changes") {
  fixture f;
  f.config.max_body_bytes = 64 * 1024;
  f.seed();
  const auto cases = table(f.config.max_body_bytes);
  REQUIRE(cases.size() >= 40);
  for (const auto& c : cases) {
    INFO(c.what << ": " << c.method << " " << c.target.substr(0, 80));
    const auto before = f.mark();
    const auto r =
        f.call(c.method, c.target, c.body, {.content_type = c.content_type, .if_match = c.if_match});
    INFO(r.body.substr(0, 300));
    CHECK(r.status == c.status);
    CHECK(error_code(r) == c.code);
    if (!c.field.empty()) CHECK(error_field(r) == c.field);
    CHECK(r.content_type == "application/json");
    CHECK(f.mark() == before);
    if (c.status == 405) CHECK_FALSE(header(r, "Allow").empty());
    // Still serving.
    REQUIRE(f.get("/v1/servers/s1").status == 200);
  }
  // And still writing.
  CHECK(f.put("/v1/servers/s2", {{"cabinet", "cab1"}}).status == 201);
}

TEST_CASE("error bodies never echo a long or broken path in full") {
  fixture f;
  const auto r = f.get("/v1/" + std::string(5000, 'x') + "\xff\xfe");
  CHECK(r.status == 404);
  CHECK(r.body.size() < 400);
  CHECK_FALSE(nlohmann::json::parse(r.body, nullptr, false).is_discarded());
}
