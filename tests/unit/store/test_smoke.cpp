#include <catch2/catch.hpp>

#include "horao/crdt/codec.hpp"
#include "horao/store/record_store.hpp"

using namespace horao;

namespace {
struct fake_time : crdt::time_source {
  std::int64_t now = 1'700'000'000'000'000;
  std::int64_t now_us() const override { return now; }
};
}  // namespace

TEST_CASE("store put, patch, delete and digest round trip") {
  fake_time time;
  crdt::hybrid_clock clock(*crdt::node_names().intern("dc-a"), time);
  store::record_store s(clock);
  std::vector<crdt::field_write> f{{"name", "\"x\""}, {"number", "1"}};
  auto r = s.put("datacenter/dc1", f);
  CHECK(r.created);
  CHECK(s.seq() == 1);
  CHECK(s.count_alive("datacenter") == 1);
  std::vector<crdt::field_write> p{{"location", "\"ams\""}};
  CHECK(s.patch("datacenter/dc1", p) != nullptr);
  CHECK(s.remove("datacenter/dc1"));
  CHECK(s.count_alive("datacenter") == 0);
  const auto* e = s.find("datacenter/dc1");
  REQUIRE(e);
  CHECK(e->state.fields().empty());
  auto decoded = crdt::decode_record(crdt::encode_record(e->state));
  REQUIRE(decoded);
  CHECK(*decoded == e->state);
  CHECK(s.digest() == crdt::hash_record("datacenter/dc1", e->state));
}
