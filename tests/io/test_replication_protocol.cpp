// The replication wire codec: round trips, and refusal of every malformed
// frame a peer could send (a peer is authenticated, not trusted).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "horao/crdt/codec.hpp"
#include "horao/crdt/record_cbor.hpp"
#include "horao/replication/protocol.hpp"

using namespace horao;
using namespace horao::replication;
using nlohmann::json;

namespace {

crdt::hlc stamp(std::int64_t wall, std::uint32_t counter, const char* node) {
  return {wall, counter, *crdt::node_names().intern(node)};
}

crdt::record sample_record() {
  crdt::record r;
  std::vector<crdt::field_write> f{
      {"name", "\"rack 1\""}, {"number", "7"}, {"tags", "{\"a\":[1,2.5,null,true]}"}};
  r.put(stamp(1'700'000'000'000'000, 0, "dc-a"), stamp(1'700'000'000'000'000, 1, "dc-a"), f);
  std::vector<crdt::field_write> p{{"number", ""}};
  r.patch(stamp(1'700'000'000'000'100, 0, "dc-b"), p);
  return r;
}

std::optional<message> roundtrip(const message& m) {
  const frame f = encode(m);
  REQUIRE_FALSE(f.empty());
  std::string error;
  auto back = decode(f, &error);
  INFO(error);
  return back;
}

frame cbor(const json& j) {
  return json::to_cbor(j);
}

// A record state as deltas carry it (crdt/record_cbor.hpp), as a JSON tree
// that tests can break on purpose.
json wire_json(const crdt::record& r) {
  std::vector<std::uint8_t> bytes;
  crdt::append_record_cbor(r, bytes);
  return json::from_cbor(bytes);
}

std::string decode_error(const frame& f) {
  std::string error;
  auto m = decode(f, &error);
  CHECK_FALSE(m.has_value());
  return error;
}

json valid_hello_json() {
  json j = {{"t", "hello"}, {"v", protocol_version}, {"node", "dc-a"},      {"epoch", 1}, {"seq", 2},
            {"records", 3}, {"received", 4},         {"received_epoch", 5}, {"proof", ""}};
  j["digest"] = json::binary(std::vector<std::uint8_t>(16, 7));
  return j;
}

}  // namespace

TEST_CASE("replication protocol: every message round-trips") {
  hello_message h;
  h.node = "dc-ams";
  h.epoch = 0xfeedfacecafebeefULL;
  h.digest = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  h.seq = 1u << 20;
  h.records = 12;
  h.received = 77;
  h.received_epoch = 99;
  h.proof = std::string(64, 'a');
  auto m = roundtrip(h);
  REQUIRE(m);
  CHECK(std::get<hello_message>(*m) == h);

  deltas_message d;
  d.from_seq = 10;
  d.to_seq = 42;
  d.records.push_back({"cabinets/c1", sample_record()});
  d.records.push_back({"servers/s 1", crdt::record{}});
  m = roundtrip(d);
  REQUIRE(m);
  CHECK(std::get<deltas_message>(*m) == d);

  CHECK(std::get<ack_message>(*roundtrip(ack_message{123456789012ULL})).seq == 123456789012ULL);
  reject_message r{reject_reason::clock, "too far ahead", 9};
  CHECK(std::get<reject_message>(*roundtrip(r)) == r);
  CHECK(std::get<bucket_request_message>(*roundtrip(bucket_request_message{256})).buckets == 256);
  buckets_message b;
  for (std::uint64_t i = 0; i < 64; ++i) b.digests.push_back({i * 3, ~i});
  CHECK(std::get<buckets_message>(*roundtrip(b)) == b);
  keys_request_message kr{1024, {0, 7, 1023}};
  CHECK(std::get<keys_request_message>(*roundtrip(kr)) == kr);
  keys_message k{1024, true, {{1, {2, 3}}, {0xffffffffffffffffULL, {4, 5}}}};
  CHECK(std::get<keys_message>(*roundtrip(k)) == k);
  keys_message incomplete{64, false, {}};
  CHECK(std::get<keys_message>(*roundtrip(incomplete)) == incomplete);
}

TEST_CASE("replication protocol: key lists are checked") {
  auto req = [](std::uint64_t n, std::vector<std::uint8_t> bytes) {
    json j = {{"t", "keys_req"}, {"n", n}};
    j["buckets"] = json::binary(std::move(bytes));
    return decode(json::to_cbor(j)).has_value();
  };
  CHECK(req(16, {0, 0, 0, 1, 0, 0, 0, 15}));
  CHECK_FALSE(req(16, {0, 0, 0, 16}));             // out of range
  CHECK_FALSE(req(16, {0, 0, 0, 2, 0, 0, 0, 1}));  // not ascending
  CHECK_FALSE(req(16, {0, 0, 0}));                 // not whole indices
  CHECK_FALSE(req(12, {}));                        // not a power of two
  auto keys = [](bool complete, std::size_t bytes) {
    json j = {{"t", "keys"}, {"n", 16}, {"complete", complete}};
    j["entries"] = json::binary(std::vector<std::uint8_t>(bytes, 1));
    return decode(json::to_cbor(j)).has_value();
  };
  CHECK(keys(true, 48));
  CHECK_FALSE(keys(true, 47));
  CHECK_FALSE(keys(false, 24));  // an incomplete answer lists nothing
  CHECK(keys(false, 0));
}

TEST_CASE("replication protocol: delta_builder knows the frame size and matches encode()") {
  delta_builder b(5);
  std::size_t added = 0;
  added += b.add("racks/r1", sample_record());
  added += b.add("racks/r2", sample_record());
  CHECK(b.count() == 2);
  const std::size_t predicted = b.size();
  frame f = b.finish(9);
  CHECK(f.size() <= predicted);
  CHECK(f.size() + delta_builder::trailer_bound >= predicted);

  deltas_message d{5, 9, {{"racks/r1", sample_record()}, {"racks/r2", sample_record()}}};
  CHECK(encode(d) == f);
  // And nlohmann reads the indefinite-length array the builder writes.
  const json j = json::from_cbor(f);
  CHECK(j["records"].size() == 2);
  CHECK(j["to"] == 9);
}

TEST_CASE("replication protocol: an empty delta only moves the cursor") {
  auto m = roundtrip(deltas_message{3, 8, {}});
  REQUIRE(m);
  CHECK(std::get<deltas_message>(*m).records.empty());
  // Records in an empty range are refused.
  json j = {{"t", "deltas"},
            {"from", 4},
            {"to", 4},
            {"records", json::array({json::array({"a/b", wire_json(sample_record())})})}};
  CHECK_FALSE(decode_error(cbor(j)).empty());
}

TEST_CASE("replication protocol: malformed frames are refused, never thrown") {
  CHECK_FALSE(decode_error({}).empty());
  CHECK_FALSE(decode_error({0xff, 0x00, 0x13}).empty());
  CHECK_FALSE(decode_error(cbor(json::array({1, 2}))).empty());
  CHECK_FALSE(decode_error(cbor(json{{"t", "nope"}})).empty());
  CHECK_FALSE(decode_error(cbor(json{{"t", "ack"}})).empty());
  CHECK_FALSE(decode_error(cbor(json{{"t", "ack"}, {"seq", -1}})).empty());
  CHECK_FALSE(decode_error(cbor(json{{"t", "ack"}, {"seq", 1}, {"extra", 1}})).empty());
  CHECK_FALSE(
      decode_error(cbor(json{{"t", "reject"}, {"reason", "bored"}, {"message", ""}, {"to", 1}})).empty());
  CHECK_FALSE(decode_error(cbor(json{{"t", "bucket_req"}, {"n", 3}})).empty());
  CHECK_FALSE(decode_error(cbor(json{{"t", "bucket_req"}, {"n", 1u << 20}})).empty());
  // buckets: the byte string must hold exactly n digests.
  json b = {{"t", "buckets"}, {"n", 4}};
  b["digests"] = json::binary(std::vector<std::uint8_t>(63, 1));
  CHECK_FALSE(decode_error(cbor(b)).empty());

  // Truncated frames of a valid message.
  const frame good = encode(deltas_message{0, 2, {{"racks/r1", sample_record()}}});
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    std::string error;
    CHECK_FALSE(decode(std::span(good.data(), cut), &error).has_value());
  }
  // Trailing garbage after a valid message.
  frame longer = good;
  longer.push_back(0x00);
  CHECK_FALSE(decode_error(longer).empty());
  // Random corruption never crashes (the outcome may be anything but a throw).
  std::uint32_t x = 12345;
  for (int round = 0; round < 2000; ++round) {
    frame f = good;
    for (int k = 0; k < 3; ++k) {
      x = x * 1664525 + 1013904223;
      f[x % f.size()] = static_cast<std::uint8_t>(x >> 24);
    }
    std::string error;
    (void)decode(f, &error);
  }
}

TEST_CASE("replication protocol: hello is checked member by member") {
  CHECK(decode(cbor(valid_hello_json())).has_value());
  for (const char* member :
       {"epoch", "digest", "seq", "records", "received", "received_epoch", "proof", "node"}) {
    json j = valid_hello_json();
    j.erase(member);
    INFO(member);
    CHECK_FALSE(decode(cbor(j)).has_value());
  }
  json bad_digest = valid_hello_json();
  bad_digest["digest"] = json::binary(std::vector<std::uint8_t>(15, 7));
  CHECK_FALSE(decode(cbor(bad_digest)).has_value());
  json bad_node = valid_hello_json();
  bad_node["node"] = "has space";
  CHECK_FALSE(decode(cbor(bad_node)).has_value());
  // Another version: identified, not parsed further, so the caller can say who
  // speaks what.
  json other = {{"t", "hello"}, {"v", 99}, {"node", "dc-new"}, {"whatever", json::array()}};
  auto m = decode(cbor(other));
  REQUIRE(m);
  CHECK(std::get<hello_message>(*m).version == 99);
  CHECK(std::get<hello_message>(*m).node == "dc-new");
}

TEST_CASE("replication protocol: deltas keys and records are validated") {
  auto with_key = [](const json& key) {
    return cbor({{"t", "deltas"},
                 {"from", 0},
                 {"to", 1},
                 {"records", json::array({json::array({key, wire_json(sample_record())})})}});
  };
  CHECK(decode(with_key("racks/r1")).has_value());
  for (const char* bad : {"", "noslash", "/id", "kind/", "ctl/\x01"}) {
    INFO(bad);
    CHECK_FALSE(decode(with_key(bad)).has_value());
  }
  CHECK_FALSE(decode(with_key(std::string(600, 'k') + "/x")).has_value());
  CHECK_FALSE(decode(with_key(42)).has_value());

  // A duplicate key within one frame.
  const json rec = wire_json(sample_record());
  CHECK_FALSE(decode(cbor({{"t", "deltas"},
                           {"from", 0},
                           {"to", 2},
                           {"records", json::array({json::array({"a/b", rec}), json::array({"a/b", rec})})}}))
                  .has_value());
  // A record state the CRDT codec refuses.
  json broken = rec;
  broken[0] = -1;  // the created stamp's wall
  CHECK_FALSE(decode(cbor({{"t", "deltas"},
                           {"from", 0},
                           {"to", 1},
                           {"records", json::array({json::array({"a/b", broken})})}}))
                  .has_value());
  // from > to.
  CHECK_FALSE(
      decode(cbor({{"t", "deltas"}, {"from", 5}, {"to", 1}, {"records", json::array()}})).has_value());
}

TEST_CASE("replication protocol: hostile CBOR (depth, UTF-8, duplicate keys, byte strings) is refused") {
  // 100,000 nested arrays: refused at the depth limit, without recursion to the bottom.
  frame deep(100'000, 0x81);
  deep.push_back(0x00);
  CHECK_THAT(decode_error(deep), Catch::Contains("nesting"));

  // Invalid UTF-8 in a text string (a key).
  frame bad_utf8 =
      cbor({{"t", "deltas"},
            {"from", 0},
            {"to", 1},
            {"records", json::array({json::array({"a/XX", wire_json(sample_record())})})}});
  for (std::size_t i = 0; i + 1 < bad_utf8.size(); ++i) {
    if (bad_utf8[i] == 'X' && bad_utf8[i + 1] == 'X') {
      bad_utf8[i] = 0xc0;  // overlong
      bad_utf8[i + 1] = 0x80;
      break;
    }
  }
  CHECK_THAT(decode_error(bad_utf8), Catch::Contains("UTF-8"));

  // A duplicate map key, hand-written (nlohmann would not write one).
  frame dup = {0xa2, 0x61, 't', 0x63, 'a', 'c', 'k', 0x61, 't', 0x63, 'a', 'c', 'k'};
  CHECK_THAT(decode_error(dup), Catch::Contains("duplicate"));

  // A byte string inside a record value.
  json rec = wire_json(sample_record());
  rec[6][0] = json::array({"name", 1, 0, "dc-a", json::binary({1, 2, 3})});
  CHECK_FALSE(decode(cbor({{"t", "deltas"},
                           {"from", 0},
                           {"to", 1},
                           {"records", json::array({json::array({"a/b", rec})})}}))
                  .has_value());

  // A frame over the cap.
  frame huge(max_frame_bytes + 1, 0);
  CHECK_THAT(decode_error(huge), Catch::Contains("larger"));
}
