#include <catch2/catch.hpp>

#include "horao/api/json_body.hpp"
#include "horao/api/merge_patch.hpp"
#include "horao/api/query.hpp"
#include "horao/api/routes.hpp"
#include "horao/api/text.hpp"

using namespace horao::api;
using nlohmann::json;

namespace {

std::string parse_error_of(std::string_view text) {
  auto r = parse_json(text);
  if (auto* e = std::get_if<api_error>(&r)) {
    CHECK(e->status == 400);
    CHECK(e->code == "bad_json");
    return e->message;
  }
  return "accepted";
}

}  // namespace

TEST_CASE("parse_json accepts JSON and refuses what is not, or is too deep") {
  CHECK(std::get<json>(parse_json(R"({"a":[1,2,{"b":null}],"c":"\u00e9"})")) ==
        json{{"a", {1, 2, {{"b", nullptr}}}}, {"c", "é"}});
  CHECK(std::get<json>(parse_json(" [] ")).is_array());
  CHECK(parse_error_of("") != "accepted");
  CHECK(parse_error_of("{") != "accepted");
  CHECK(parse_error_of("{} x") != "accepted");
  CHECK(parse_error_of("{\"a\":1,}") != "accepted");
  CHECK(parse_error_of("{\"a\":\"\xff\"}") != "accepted");
  CHECK(parse_error_of("{\"a\":\"\\ud800\"}") != "accepted");
  CHECK(parse_error_of("{\"a\":\"\x01\"}") != "accepted");
  CHECK(parse_error_of("{\"a\":1e400}") != "accepted");
  CHECK(parse_error_of("{\"a\":NaN}") != "accepted");
  CHECK(parse_error_of("{\"a\":1,\"a\":2}").find("duplicate") != std::string::npos);
  CHECK(parse_error_of(R"({"x":{"a":1,"a":1}})").find("duplicate") != std::string::npos);
}

TEST_CASE("parse_json bounds nesting depth without recursing") {
  const auto nested = [](std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  CHECK(std::holds_alternative<json>(parse_json(nested(max_json_depth))));
  CHECK(parse_error_of(nested(max_json_depth + 1)).find("nesting") != std::string::npos);
  // Far deeper than any stack would take: refused at level 65, not built.
  CHECK(parse_error_of(std::string(1'000'000, '[')).find("nesting") != std::string::npos);
  std::string objects;
  for (int i = 0; i < 100; ++i) objects += "{\"a\":";
  CHECK(parse_error_of(objects + "1" + std::string(100, '}')).find("nesting") != std::string::npos);
}

TEST_CASE("media types: JSON with an optional UTF-8 charset") {
  CHECK(is_json_media_type("application/json"));
  CHECK(is_json_media_type("Application/JSON; charset=UTF-8"));
  CHECK(is_json_media_type("application/json;charset=\"utf-8\""));
  CHECK_FALSE(is_json_media_type("application/json; charset=latin1"));
  CHECK_FALSE(is_json_media_type("text/plain"));
  CHECK_FALSE(is_json_media_type(""));
  CHECK_FALSE(is_json_media_type("application/jsonx"));
  CHECK_FALSE(is_json_media_type("application/merge-patch+json"));
  CHECK(is_json_media_type("application/merge-patch+json", true));
}

TEST_CASE("query strings are parsed strictly") {
  auto q = query_params::parse("limit=10&after=s%2D01&name=a+b%20c");
  REQUIRE(std::holds_alternative<query_params>(q));
  const auto& params = std::get<query_params>(q);
  CHECK(*params.find("after") == "s-01");
  CHECK(*params.find("name") == "a+b c");  // RFC 3986: '+' is a plus
  CHECK(std::get<std::uint64_t>(params.limit()) == 10);
  CHECK(std::get<std::uint64_t>(std::get<query_params>(query_params::parse("")).limit()) ==
        default_page_limit);

  for (const char* bad :
       {"a", "&", "a=1&", "a=1&&b=2", "=1", "a=%", "a=%4", "a=%zz", "%zz=1", "a=1&a=2", "a=%ff"}) {
    INFO(bad);
    auto r = query_params::parse(bad);
    REQUIRE(std::holds_alternative<api_error>(r));
    CHECK(std::get<api_error>(r).code == "bad_query");
  }
  std::string many;
  for (std::size_t i = 0; i <= max_query_params; ++i) many += (i ? "&p" : "p") + std::to_string(i) + "=1";
  CHECK(std::holds_alternative<api_error>(query_params::parse(many)));

  for (const char* bad_limit :
       {"limit=0", "limit=1001", "limit=-1", "limit=1.5", "limit=", "limit=99999999999999999999999"}) {
    INFO(bad_limit);
    auto p = std::get<query_params>(query_params::parse(bad_limit));
    CHECK(std::holds_alternative<api_error>(p.limit()));
  }
  CHECK(std::get<std::uint64_t>(std::get<query_params>(query_params::parse("limit=1000")).limit()) == 1000);
}

TEST_CASE("routes match collections, ids and fixed paths") {
  const auto ok = [](std::string_view path) { return std::get<route_match>(match_route(path)); };
  const auto err = [](std::string_view path) { return std::get<api_error>(match_route(path)); };

  CHECK(ok("/healthz").route->id == route_id::healthz);
  CHECK(ok("/openapi.json").route->id == route_id::openapi);
  CHECK(ok("/v1/cluster/sync").route->id == route_id::cluster_sync);
  auto m = ok("/v1/servers");
  CHECK(m.route->id == route_id::collection);
  CHECK(m.kind->kind == "server");
  m = ok("/v1/servers/s%2D1");
  CHECK(m.route->id == route_id::resource);
  CHECK(m.id == "s-1");
  m = ok("/v1/datacenters/dc1/tree");
  CHECK(m.route->id == route_id::tree);
  CHECK(m.id == "dc1");

  for (const char* path :
       {"", "v1/servers", "/", "/v1", "/v1/", "/v1/serverz", "/v2/servers", "/v1/servers/s1/x",
        "/v1/cabinets/c1/tree", "/v1/cluster/x", "/v1/a/b/c/d/e", "/healthz/x", "/v1/%zz"}) {
    INFO(path);
    CHECK(err(path).status == 404);
    CHECK(err(path).code == "unknown_collection");
  }
  for (const char* path : {"/v1/servers/", "/v1/servers/-x", "/v1/servers/a%2Fb", "/v1/servers/%zz",
                           "/v1/datacenters/.x/tree"}) {
    INFO(path);
    CHECK(err(path).code == "invalid_id");
  }
  CHECK(err("/v1/servers/" + std::string(129, 'a')).code == "invalid_id");
  CHECK(ok("/v1/servers/" + std::string(128, 'a')).id.size() == 128);
  CHECK(err("/v1/" + std::string(10'000, 'x')).message.size() < 300);
}

TEST_CASE("Allow headers list methods in a fixed order") {
  CHECK(allow_header(m_get | m_put | m_patch | m_delete) == "GET, PUT, PATCH, DELETE");
  CHECK(method_of("GET") == m_get);
  CHECK(method_of("get") == 0);
  CHECK(method_name(method_of("BREW")) == "OTHER");
}

TEST_CASE("merge patch follows RFC 7396 appendix A") {
  const auto check = [](json target, json patch, json expected) {
    CHECK(merge_patch(target, patch) == expected);
  };
  check({{"a", "b"}}, {{"a", "c"}}, {{"a", "c"}});
  check({{"a", "b"}}, {{"b", "c"}}, {{"a", "b"}, {"b", "c"}});
  check({{"a", "b"}}, {{"a", nullptr}}, json::object());
  check({{"a", "b"}, {"b", "c"}}, {{"a", nullptr}}, {{"b", "c"}});
  check({{"a", {"b"}}}, {{"a", "c"}}, {{"a", "c"}});
  check({{"a", "c"}}, {{"a", {"b"}}}, {{"a", {"b"}}});
  check({{"a", {{"b", "c"}}}}, {{"a", {{"b", "d"}, {"c", nullptr}}}}, {{"a", {{"b", "d"}}}});
  check({{"a", {{{"b", "c"}}}}}, {{"a", {1}}}, {{"a", {1}}});
  check({"a", "b"}, {"c", "d"}, {"c", "d"});
  check({{"a", "b"}}, {"c"}, {"c"});
  check({{"a", "foo"}}, nullptr, nullptr);
  check({{"a", "foo"}}, "bar", "bar");
  check({{"e", nullptr}}, {{"a", 1}}, {{"e", nullptr}, {"a", 1}});
  check({1, 2}, {{"a", "b"}, {"c", nullptr}}, {{"a", "b"}});
  check(json::object(), {{"a", {{"bb", {{"ccc", nullptr}}}}}}, {{"a", {{"bb", json::object()}}}});
}

TEST_CASE("text helpers") {
  CHECK(valid_utf8("plain"));
  CHECK(valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
  CHECK_FALSE(valid_utf8("\xc3"));
  CHECK_FALSE(valid_utf8("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate
  CHECK_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  std::string out;
  append_json_string(out, "a\"b\\c\n\x01");
  CHECK(out == R"("a\"b\\c\n\u0001")");
  CHECK(json::parse(out) == "a\"b\\c\n\x01");
  CHECK(pointer_token("a/b~c") == "a~1b~0c");
}
