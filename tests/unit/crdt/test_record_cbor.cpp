// The compact record layout of replication frames (crdt/record_cbor.hpp):
// round trips, agreement with the JSON codec, canonical values, and refusal
// of malformed input with a message, never an exception or a read past the end.

#include <rapidcheck/catch.h>

#include "generators.hpp"
#include "horao/crdt/codec.hpp"
#include "horao/crdt/record_cbor.hpp"

using namespace horao;
using nlohmann::json;

namespace {

std::vector<std::uint8_t> bytes_of(const crdt::record& r) {
  std::vector<std::uint8_t> out;
  crdt::append_record_cbor(r, out);
  return out;
}

struct outcome {
  std::optional<crdt::record> record;
  std::string error;
  bool consumed_all = false;
};

outcome read(std::span<const std::uint8_t> bytes) {
  outcome out;
  crdt::cbor::reader in(bytes);
  out.record = crdt::read_record_cbor(in, &out.error);
  out.consumed_all = in.at_end();
  return out;
}

outcome read_json(const json& j) {
  const auto b = json::to_cbor(j);
  return read(b);
}

json sample() {
  return json::array({1700000000000000, 1, "n1", 0, 0, "",
                      json::array({json::array({"a", 1700000000000000, 1, "n1", R"({"x":[1,2]})"}),
                                   json::array({"b", 1700000000000000, 1, "n1"})})});
}

}  // namespace

TEST_CASE("record cbor round trip") {
  const auto r = read_json(sample());
  REQUIRE(r.record);
  CHECK(r.consumed_all);
  CHECK(test::value_of(*r.record, "a") == R"({"x":[1,2]})");
  REQUIRE(r.record->find("b") != nullptr);
  CHECK(test::value_of(*r.record, "b").empty());

  rc::prop("read(append(r)) == r and consumes exactly its bytes", [] {
    const auto r = *test::gen_record();
    const auto b = bytes_of(r);
    const auto back = read(b);
    RC_ASSERT(back.record.has_value());
    RC_ASSERT(*back.record == r);
    RC_ASSERT(back.consumed_all);
  });
  rc::prop("the bytes are those of the layout written by a general CBOR encoder, sized exactly", [] {
    const auto r = *test::gen_record();
    json fields = json::array();
    for (const auto& f : r.fields()) {
      json entry = {f.name_text(), f.stamp.wall_us, f.stamp.counter, crdt::node_name(f.stamp)};
      if (!f.absent()) entry.push_back(std::string(f.value.view()));
      fields.push_back(std::move(entry));
    }
    const json layout = {r.created().wall_us,
                         r.created().counter,
                         crdt::node_name(r.created()),
                         r.deleted().wall_us,
                         r.deleted().counter,
                         crdt::node_name(r.deleted()),
                         fields};
    const auto expected = json::to_cbor(layout);
    RC_ASSERT(bytes_of(r) == expected);
    RC_ASSERT(crdt::record_cbor_size(r) == expected.size());
    // Written through the pointer form, after other bytes and before a
    // guard: exactly its size, nothing past it.
    std::vector<std::uint8_t> buffer(3 + expected.size() + 1, 0xAB);
    RC_ASSERT(crdt::write_record_cbor(r, buffer.data() + 3) == buffer.data() + 3 + expected.size());
    RC_ASSERT(std::equal(expected.begin(), expected.end(), buffer.begin() + 3));
    RC_ASSERT(buffer.back() == 0xAB);
  });
  rc::prop("agrees with the JSON codec", [] {
    const auto r = *test::gen_record();
    const auto back = read(bytes_of(r));
    RC_ASSERT(back.record.has_value());
    RC_ASSERT(crdt::encode_record(*back.record) == crdt::encode_record(r));
  });
}

TEST_CASE("cbor heads: the shortest form at every size boundary, as a general encoder writes them") {
  for (const std::uint64_t v : {0ull, 1ull, 23ull, 24ull, 255ull, 256ull, 65535ull, 65536ull, 0xffffffffull,
                                0x100000000ull, 0xffffffffffffffffull}) {
    CAPTURE(v);
    std::vector<std::uint8_t> written;
    crdt::cbor::put_head(written, crdt::cbor::unsigned_int, v);
    CHECK(written == json::to_cbor(json(v)));
    CHECK(written.size() == crdt::cbor::head_size(v));
    crdt::cbor::reader in(written);
    CHECK(in.unsigned_value() == v);
    CHECK(in.at_end());
  }
  std::vector<std::uint8_t> text;
  crdt::cbor::put_text(text, std::string(300, 'x'));
  CHECK(text == json::to_cbor(json(std::string(300, 'x'))));
}

TEST_CASE("record cbor stores values in canonical compact form") {
  auto j = sample();
  j[6][0][4] = R"({ "x" : [ 1 , 2 ] })";
  const auto r = read_json(j);
  REQUIRE(r.record);
  CHECK(test::value_of(*r.record, "a") == R"({"x":[1,2]})");

  CHECK(crdt::canonical_json_value("42", nullptr) == "42");
  CHECK(crdt::canonical_json_value("-7", nullptr) == "-7");
  CHECK(crdt::canonical_json_value("\"plain\"", nullptr) == "\"plain\"");
  CHECK(crdt::canonical_json_value("true", nullptr) == "true");
  CHECK(crdt::canonical_json_value("1.50", nullptr) == "1.5");
  CHECK(crdt::canonical_json_value("007", nullptr) == std::nullopt);
  CHECK(crdt::canonical_json_value("-0", nullptr) == "0");
  CHECK(crdt::canonical_json_value("\"caf\\u00e9\"", nullptr) == "\"café\"");
  CHECK(crdt::canonical_json_value("18446744073709551615", nullptr) == "18446744073709551615");
  std::string error;
  CHECK_FALSE(crdt::canonical_json_value("", &error));
  CHECK_FALSE(error.empty());
  CHECK_FALSE(crdt::canonical_json_value("[1,", &error));
  CHECK_FALSE(crdt::canonical_json_value("1 2", &error));
  CHECK_FALSE(crdt::canonical_json_value(std::string(65, '[') + std::string(65, ']'), &error));
  CHECK_THAT(error, Catch::Contains("deeper"));
  CHECK_FALSE(crdt::canonical_json_value("\"\xc0\x80\"", &error));
  CHECK_THAT(error, Catch::Contains("UTF-8"));

  rc::prop("canonical text is a fixed point", [] {
    const auto r = *test::gen_record();
    for (const auto& f : r.fields())
      if (!f.absent()) RC_ASSERT(crdt::canonical_json_value(f.value, nullptr) == f.value);
  });
}

TEST_CASE("record cbor refuses malformed records with a message") {
  auto refused = [](const json& j) {
    const auto r = read_json(j);
    INFO(j.dump());
    CHECK_FALSE(r.record.has_value());
    CHECK_FALSE(r.error.empty());
  };
  auto with = [](auto&& change) {
    json j = sample();
    change(j);
    return j;
  };
  refused(json::object());
  refused(json::array({1, 2, 3}));
  refused(with([](json& j) { j[0] = -1; }));
  refused(with([](json& j) { j[0] = crdt::max_wall_us + 1; }));
  refused(with([](json& j) { j[1] = 1ull << 32; }));
  refused(with([](json& j) { j[2] = 5; }));
  refused(with([](json& j) { j[2] = std::string(300, 'n'); }));
  refused(with([](json& j) { j[6] = json::object(); }));
  refused(with([](json& j) { j[6][0] = json::array({"a", 1, 1}); }));
  refused(with([](json& j) { j[6][0][0] = ""; }));
  refused(with([](json& j) { j[6][0][4] = "{not json"; }));
  refused(with([](json& j) { j[6][0][4] = 42; }));  // a value travels as JSON text
  refused(with([](json& j) {
    j[6] = json::array();
    for (std::size_t i = 0; i <= crdt::max_fields_per_record; ++i)
      j[6].push_back(json::array({"f" + std::to_string(i % 4), 1, 1, "n1"}));
  }));
}

TEST_CASE("record cbor never reads past its input or throws") {
  const auto good = json::to_cbor(sample());
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    const auto r = read(std::span(good.data(), cut));
    CHECK_FALSE(r.record.has_value());
  }
  rc::prop("random corruption", [] {
    auto b = json::to_cbor(sample());
    const auto flips = *rc::gen::inRange(1, 6);
    for (int k = 0; k < flips; ++k) {
      const auto at = *rc::gen::inRange<std::size_t>(0, b.size());
      b[at] = *rc::gen::arbitrary<std::uint8_t>();
    }
    const auto r = read(b);  // any outcome but a crash or a throw
    if (r.record) {
      for (const auto& f : r.record->fields())
        if (!f.absent()) RC_ASSERT(crdt::canonical_json_value(f.value, nullptr) == f.value);
    }
  });
  SECTION("skip steps over whole items and refuses truncation") {
    crdt::cbor::reader in(good);
    CHECK(in.skip(8));
    CHECK(in.at_end());
    for (std::size_t cut = 0; cut < good.size(); ++cut) {
      crdt::cbor::reader part(std::span(good.data(), cut));
      CHECK_FALSE(part.skip(8));
    }
    crdt::cbor::reader shallow(good);
    CHECK_FALSE(shallow.skip(2));  // the fields array nests three deep
    const std::vector<std::uint8_t> huge_count = {0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    crdt::cbor::reader liar(huge_count);
    CHECK_FALSE(liar.skip(8));
  }
}
