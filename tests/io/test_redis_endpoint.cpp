#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "horao/crdt/codec.hpp"
#include "horao/persist/entry_codec.hpp"
#include "horao/persist/redis_endpoint.hpp"

using namespace horao;
using persist::parse_redis_url;
using persist::redis_endpoint;

TEST_CASE("REDIS_URL: tcp with user, password and database") {
  auto ep = parse_redis_url("redis://app:s%40cr%3At@redis.example:6380/3");
  REQUIRE(ep);
  CHECK(ep->kind == redis_endpoint::transport::tcp);
  CHECK(ep->host == "redis.example");
  CHECK(ep->port == 6380);
  CHECK(ep->user == "app");
  CHECK(ep->password == "s@cr:t");
  CHECK(ep->db == 3);
  CHECK(ep->redacted() == "redis://app:***@redis.example:6380/3");
}

TEST_CASE("REDIS_URL: defaults, password only, IPv6, unix socket") {
  auto plain = parse_redis_url("redis://localhost");
  REQUIRE(plain);
  CHECK(plain->port == 6379);
  CHECK(plain->db == 0);
  CHECK(plain->password.empty());

  auto pw = parse_redis_url("redis://:p@ss@10.0.0.1:7000/");
  REQUIRE(pw);
  CHECK(pw->user.empty());
  CHECK(pw->password == "p@ss");  // the last '@' ends the user information
  CHECK(pw->host == "10.0.0.1");
  CHECK(pw->redacted().find("p@ss") == std::string::npos);

  auto v6 = parse_redis_url("redis://[::1]:6390/1");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 6390);
  CHECK(v6->db == 1);

  auto unix_socket = parse_redis_url("unix:///run/redis/redis.sock?db=2");
  REQUIRE(unix_socket);
  CHECK(unix_socket->kind == redis_endpoint::transport::unix_socket);
  CHECK(unix_socket->path == "/run/redis/redis.sock");
  CHECK(unix_socket->db == 2);
}

TEST_CASE("REDIS_URL: bad forms are refused with a reason that never shows the password") {
  for (const char* bad :
       {"http://localhost", "redis://", "redis://host:0", "redis://host:70000", "redis://host:x",
        "redis://host/abc", "redis://user@host", "redis://:@host", "redis://[::1", "unix://relative",
        "unix:///tmp/s?x=1", "rediss://host", "redis://:hunter2%zz@host"}) {
    std::string error;
    CAPTURE(bad);
    CHECK_FALSE(parse_redis_url(bad, &error));
    CHECK(error.starts_with("REDIS_URL"));
    CHECK(error.find("hunter2") == std::string::npos);
  }
}

TEST_CASE("entry codec: round trip and refusal of hostile values") {
  crdt::record r(crdt::hlc{1'700'000'000'000'000, 2, *crdt::node_names().intern("dc-a")}, crdt::hlc{},
                 {crdt::field_entry{crdt::hlc{1'700'000'000'000'000, 2, *crdt::node_names().intern("dc-a")},
                                    *crdt::field_names().intern("name"), "\"x\""}});
  const std::string bytes = persist::encode_entry(42, r);
  auto back = persist::decode_entry(bytes);
  REQUIRE(back);
  CHECK(back->seq == 42);
  CHECK(back->state == r);

  CHECK(static_cast<unsigned char>(bytes.front()) == 0x82);  // format 2: [seq, record]

  // Format 1, as older daemons wrote it, is still read.
  std::string v1;
  nlohmann::json::to_cbor(nlohmann::json{{"s", 42}, {"r", crdt::encode_record(r)}}, v1);
  auto old = persist::decode_entry(v1);
  REQUIRE(old);
  CHECK(old->seq == 42);
  CHECK(old->state == r);

  std::string why;
  // Format 2 refusals: trailing bytes, a zero or missing sequence, truncation,
  // a value that is not JSON text.
  CHECK_FALSE(persist::decode_entry(bytes + std::string(1, '\0'), &why));
  CHECK(why.find("trailing") != std::string::npos);
  CHECK_FALSE(persist::decode_entry(persist::encode_entry(0, r), &why));
  CHECK(why.find("sequence") != std::string::npos);
  for (std::size_t cut = 1; cut < bytes.size(); ++cut) CHECK_FALSE(persist::decode_entry(bytes.substr(0, cut)));
  crdt::record bad(r.created(), crdt::hlc{},
                   {crdt::field_entry{r.created(), *crdt::field_names().intern("name"), "not json"}});
  CHECK_FALSE(persist::decode_entry(persist::encode_entry(1, bad), &why));
  CHECK(why.find("bad record state") != std::string::npos);

  CHECK_FALSE(persist::decode_entry("", &why));
  CHECK_FALSE(persist::decode_entry(std::string("\xff\x00garbage", 9), &why));
  CHECK_FALSE(
      persist::decode_entry(std::string(200000, '\x81'), &why));  // [[[[...: refused before the stack suffers
  CHECK(why.find("deeper") != std::string::npos);
  std::string cbor;
  nlohmann::json::to_cbor(nlohmann::json{{"s", 0}, {"r", crdt::encode_record(r)}}, cbor);
  CHECK_FALSE(persist::decode_entry(cbor, &why));
  cbor.clear();
  nlohmann::json::to_cbor(nlohmann::json{{"s", 1}, {"r", crdt::encode_record(r)}, {"x", 1}}, cbor);
  CHECK_FALSE(persist::decode_entry(cbor, &why));
  cbor.clear();
  nlohmann::json::to_cbor(nlohmann::json{{"s", 1}, {"r", {{"c", 1}}}}, cbor);
  CHECK_FALSE(persist::decode_entry(cbor, &why));
  CHECK(why.find("bad record state") != std::string::npos);
  // A map header claiming 2^64-1 members must not allocate or throw out.
  CHECK_FALSE(persist::decode_entry(std::string("\xbb\xff\xff\xff\xff\xff\xff\xff\xff", 9), &why));
}
