// The record codec (Redis and the replication wire): round trips through JSON
// text and CBOR, and refusal of everything malformed, with a message and
// without an exception.

#include <limits>

#include <rapidcheck/catch.h>

#include "generators.hpp"
#include "horao/crdt/codec.hpp"

using namespace horao;
using nlohmann::json;

namespace {

// What a caller sees: a record, or an error message; never an exception.
struct outcome {
  std::optional<crdt::record> record;
  std::string error;
};

outcome decode(const json& j) {
  outcome out;
  out.record = crdt::decode_record(j, &out.error);
  return out;
}

json good() {
  return json::parse(R"({"c":[1700000000000000,1,"n1"],"d":[0,0,""],"f":{"a":[1700000000000000,1,"n1",{"x":[1,2]}],"b":[1700000000000000,1,"n1"]}})");
}

// The CBOR form of `j` as a peer would send it, decoded as the daemon would.
json via_cbor(const json& j) { return json::from_cbor(json::to_cbor(j)); }

}  // namespace

TEST_CASE("codec round trip") {
  const auto r = crdt::decode_record(good());
  REQUIRE(r);
  CHECK(crdt::encode_record(*r) == good());
  REQUIRE(r->find("b") != nullptr);
  CHECK(test::value_of(*r, "b").empty());
  CHECK(test::value_of(*r, "a") == R"({"x":[1,2]})");

  rc::prop("decode(encode(r)) == r", [] {
    const auto r = *test::gen_record();
    const auto back = crdt::decode_record(crdt::encode_record(r));
    RC_ASSERT(back.has_value());
    RC_ASSERT(*back == r);
  });
  rc::prop("through JSON text and through CBOR", [] {
    const auto r = *test::gen_record();
    const json encoded = crdt::encode_record(r);
    const auto from_text = crdt::decode_record(json::parse(encoded.dump()));
    const auto from_cbor = crdt::decode_record(via_cbor(encoded));
    RC_ASSERT(from_text.has_value());
    RC_ASSERT(from_cbor.has_value());
    RC_ASSERT(*from_text == r);
    RC_ASSERT(*from_cbor == r);
  });
  rc::prop("hlc round trip", [] {
    const auto t = *test::gen_stamp_or_bottom();
    RC_ASSERT(crdt::decode_hlc(crdt::encode_hlc(t)) == t);
    RC_ASSERT(crdt::decode_hlc(via_cbor(crdt::encode_hlc(t))) == t);
  });
}

TEST_CASE("codec re-serialises values compactly so that equal values have equal text") {
  auto j = good();
  j["f"]["a"][3] = json::parse(R"({ "y" : [ 1 , 2 ] , "x" : "é" })");
  const auto r = crdt::decode_record(j);
  REQUIRE(r);
  CHECK(test::value_of(*r, "a") == R"({"x":"é","y":[1,2]})");
}

TEST_CASE("codec refuses malformed records with a message and never throws") {
  const std::string long_name(crdt::symbol_table::max_name_length + 1, 'q');
  auto with = [](const char* pointer, json value) {
    json j = good();
    j[json::json_pointer(pointer)] = std::move(value);
    return j;
  };
  auto without = [](const char* member) {
    json j = good();
    j.erase(member);
    return j;
  };
  json too_many = good();
  for (std::size_t i = 0; i <= crdt::max_fields_per_record; ++i)
    too_many["f"]["f" + std::to_string(i)] = json::array({1, 0, "n1", i});
  json long_field = good();
  long_field["f"][long_name] = json::array({1, 0, "n1", 1});
  json empty_field = good();
  empty_field["f"][""] = json::array({1, 0, "n1", 1});

  const std::vector<std::pair<const char*, json>> cases{
      {"an array", json::array()},
      {"null", json(nullptr)},
      {"a string", json("record")},
      {"an empty object", json::object()},
      {"no c", without("c")},
      {"no d", without("d")},
      {"no f", without("f")},
      {"an extra member", with("/x", 1)},
      {"c an object", with("/c", json::object({{"wall", 1}}))},
      {"c too short", with("/c", json::array({1, 0}))},
      {"c too long", with("/c", json::array({1, 0, "n1", 4}))},
      {"negative wall", with("/c/0", -1)},
      {"fractional wall", with("/c/0", 1.5)},
      {"wall as text", with("/d/0", "1")},
      {"wall beyond year 9999", with("/c/0", crdt::max_wall_us + 1)},
      {"wall beyond int64", with("/c/0", std::numeric_limits<std::uint64_t>::max())},
      {"negative counter", with("/c/1", -1)},
      {"counter over 2^32-1", with("/c/1", std::uint64_t{1} << 32)},
      {"fractional counter", with("/c/1", 1.0)},
      {"counter as text", with("/c/1", "1")},
      {"node a number", with("/c/2", 5)},
      {"node null", with("/d/2", nullptr)},
      {"node name too long", with("/c/2", long_name)},
      {"f an array", with("/f", json::array())},
      {"field not an array", with("/f/a", 5)},
      {"field too short", with("/f/a", json::array({1, 0}))},
      {"field too long", with("/f/a", json::array({1, 0, "n1", 1, 2}))},
      {"field stamp negative", with("/f/a/0", -5)},
      {"field counter too large", with("/f/b/1", std::uint64_t{1} << 40)},
      {"field node not a string", with("/f/b/2", json::array())},
      {"field node too long", with("/f/b/2", long_name)},
      {"too many fields", too_many},
      {"field name too long", long_field},
      {"empty field name", empty_field},
  };
  for (const auto& [what, input] : cases) {
    INFO(what);
    for (const json& j : {input, via_cbor(input)}) {
      outcome out;
      REQUIRE_NOTHROW(out = decode(j));
      CHECK_FALSE(out.record.has_value());
      CHECK_FALSE(out.error.empty());
    }
  }
  // Without an error pointer: still no exception.
  CHECK_NOTHROW(crdt::decode_record(json::array()));
}

TEST_CASE("codec refuses invalid UTF-8 arriving through CBOR") {
  // CBOR does not validate text strings; the JSON side must not carry them on
  // (dumping them to Redis or to a peer would throw far from here).
  const std::string bad = "ok\xff\xfe";
  std::vector<std::pair<const char*, json>> cases;
  {
    json j = good();
    j["f"]["a"][3] = bad;
    cases.emplace_back("in a value", j);
  }
  {
    json j = good();
    j["f"]["a"][3] = json::object({{bad, 1}});
    cases.emplace_back("in an object key inside a value", j);
  }
  {
    json j = good();
    j["f"][bad] = json::array({1, 0, "n1", 1});
    cases.emplace_back("in a field name", j);
  }
  {
    json j = good();
    j["c"][2] = bad;
    cases.emplace_back("in a node name", j);
  }
  {
    json j = good();
    j["f"]["b"][2] = "n\xc3";  // truncated two-byte sequence
    cases.emplace_back("truncated in a field's node", j);
  }
  for (const auto& [what, input] : cases) {
    INFO(what);
    outcome out;
    REQUIRE_NOTHROW(out = decode(via_cbor(input)));
    CHECK_FALSE(out.record.has_value());
    CHECK_FALSE(out.error.empty());
  }
}

TEST_CASE("codec never throws on arbitrary input and what it accepts is canonical") {
  rc::prop("random JSON in place of any part of a valid record", [] {
    json j = crdt::encode_record(*test::gen_record());
    // Replace a random node of the document by random JSON.
    std::vector<json::json_pointer> paths{json::json_pointer("")};
    const json flat = j.flatten();
    for (const auto& [path, value] : flat.items()) {
      (void)value;
      json::json_pointer p(path);
      while (!p.empty()) {
        paths.push_back(p);
        p = p.parent_pointer();
      }
    }
    const auto target = *rc::gen::elementOf(paths);
    const json replacement = *test::gen_json(2);
    if (target.empty())
      j = replacement;
    else
      j[target] = replacement;
    std::optional<crdt::record> r;
    std::string error;
    try {
      r = crdt::decode_record(j, &error);
    } catch (...) {
      RC_FAIL("decode_record threw");
    }
    if (!r) RC_ASSERT(!error.empty());
    if (r) {
      const auto again = crdt::decode_record(crdt::encode_record(*r));
      RC_ASSERT(again.has_value());
      RC_ASSERT(*again == *r);
    }
  });
}
