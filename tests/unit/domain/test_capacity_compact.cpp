// The compact hardware tree (topology.hpp): figures beyond its 32-bit
// counters, machines listing many networks, parents losing many children,
// and the pointer set behind a network's machines.
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "test_scheduler_fixture.hpp"

using namespace horao;
using namespace horao::test;
using domain::dimension;

namespace {

domain::pools both_pools(const domain::capacity_index& c, std::string_view dc = {}) {
  return {c.capacity({dc, false, std::nullopt}), c.capacity({dc, true, std::nullopt})};
}

// The incremental index equals a rebuild from the same store.
void check_equals_rebuild(replica& d) {
  domain::capacity_index rebuilt(d.store);
  CHECK(both_pools(*d.capacity) == both_pools(rebuilt));
  CHECK(both_pools(*d.capacity, "dc1") == both_pools(rebuilt, "dc1"));
  CHECK(d.capacity->hardware().node_count() == rebuilt.hardware().node_count());
}

}  // namespace

TEST_CASE("figures beyond 32 bits are kept exactly and go back to the compact form") {
  replica d;
  d.put("datacenter/dc1", datacenter(1));
  d.put("cabinet/c1", cabinet("dc1"));
  json big = server("c1", 1);
  big["cpus"] = json::array({{{"cores", 5'000'000'000}}});
  d.put("server/s1", big);
  d.put("disk/d1", disk("server/s1", 5000.25, "object"));  // 5,000,250,000 micro-TB
  d.put("disk/d2", disk("server/s1", 1.5, "block"));
  auto all = d.capacity->capacity({});
  CHECK(all[dimension::cpu] == 5'000'000'000);
  CHECK(all[dimension::object_tb] == 5'000'250'000);
  CHECK(all[dimension::block_tb] == 1'500'000);
  check_equals_rebuild(d);

  SECTION("shrinking to 32 bits") {
    d.put("server/s1", server("c1", 64));
    d.put("disk/d1", disk("server/s1", 2, "object"));
    all = d.capacity->capacity({});
    CHECK(all[dimension::cpu] == 64);
    CHECK(all[dimension::object_tb] == 2'000'000);
    check_equals_rebuild(d);
  }
  SECTION("dying") {
    d.remove("disk/d1");
    d.remove("server/s1");
    all = d.capacity->capacity({});
    CHECK(all[dimension::cpu] == 0);
    CHECK(all[dimension::object_tb] == 0);
    CHECK(all[dimension::block_tb] == 0);  // d2 lost its machine
    check_equals_rebuild(d);
  }
  SECTION("a disk switching between block and object") {
    d.put("disk/d2", disk("server/s1", 1.5, "object"));
    all = d.capacity->capacity({});
    CHECK(all[dimension::block_tb] == 0);
    CHECK(all[dimension::object_tb] == 5'001'750'000);
    check_equals_rebuild(d);
  }
}

TEST_CASE("a machine listing many networks, repeats included, follows each of them") {
  replica d;
  d.put("datacenter/dc1", datacenter(1));
  d.put("cabinet/c1", cabinet("dc1"));
  std::vector<std::string> names;
  for (int i = 0; i < 12; ++i) {
    names.push_back("n" + std::to_string(i));
    d.put("network/n" + std::to_string(i), network("dc1", "data", false));
  }
  std::vector<std::string> listed = names;
  listed.push_back("n3");  // a repeat
  listed.push_back("missing");
  d.put("server/s1", server("c1", 16, 0, 0, listed));
  d.put("server/s2", server("c1", 4, 0, 0, {"n5", "n5"}));
  d.put("disk/d1", disk("server/s1", 1));
  auto hsn = [&] { return d.capacity->capacity({{}, true, std::nullopt}); };
  CHECK(hsn()[dimension::cpu] == 0);

  d.patch("network/n3", {{"hsn", true}});
  CHECK(hsn()[dimension::cpu] == 16);
  CHECK(hsn()[dimension::block_tb] == 1'000'000);  // the disk of an hsn machine
  d.patch("network/n5", {{"hsn", true}});
  CHECK(hsn()[dimension::cpu] == 20);
  d.patch("network/n3", {{"hsn", false}});
  CHECK(hsn()[dimension::cpu] == 20);  // s1 is still on n5
  check_equals_rebuild(d);

  d.remove("network/n5");
  CHECK(hsn()[dimension::cpu] == 0);
  d.put("network/missing", network("dc1", "data", true));
  CHECK(hsn()[dimension::cpu] == 16);
  // The same list in another order and without the repeat: still the same.
  std::vector<std::string> reordered(names.rbegin(), names.rend());
  reordered.push_back("missing");
  d.patch("server/s1", {{"networks", reordered}});
  CHECK(hsn()[dimension::cpu] == 16);
  d.patch("server/s1", {{"networks", {"n1"}}});
  CHECK(hsn()[dimension::cpu] == 0);
  check_equals_rebuild(d);
  d.remove("server/s1");
  d.remove("server/s2");
  d.remove("network/missing");
  CHECK(both_pools(*d.capacity).is_zero());
  check_equals_rebuild(d);
}

TEST_CASE("a parent losing many children in any order keeps exact sums") {
  replica d;
  d.put("datacenter/dc1", datacenter(1));
  d.put("cabinet/c1", cabinet("dc1"));
  d.put("cabinet/c2", cabinet("dc1"));
  const int servers = 300;
  for (int i = 0; i < servers; ++i) d.put("server/s" + std::to_string(i), server("c1", i + 1));
  auto cores = [&] { return d.capacity->capacity({})[dimension::cpu]; };
  CHECK(cores() == servers * (servers + 1) / 2);
  domain::quantity expected = cores();
  for (int i = 0; i < servers; i += 3) {
    d.remove("server/s" + std::to_string(i));
    expected -= i + 1;
  }
  for (int i = 1; i < servers; i += 3) d.patch("server/s" + std::to_string(i), {{"cabinet", "c2"}});
  CHECK(cores() == expected);
  check_equals_rebuild(d);
  d.remove("cabinet/c2");
  for (int i = 1; i < servers; i += 3) expected -= i + 1;
  CHECK(cores() == expected);
  d.put("cabinet/c2", cabinet("dc1"));
  for (int i = 1; i < servers; i += 3) expected += i + 1;
  CHECK(cores() == expected);
  check_equals_rebuild(d);
}

TEST_CASE("pointer_set (pointer_table.hpp) holds what a std::set holds after any inserts and erases") {
  rc::prop("same elements", [](const std::vector<std::pair<bool, std::uint8_t>>& ops) {
    static int pool[256];
    domain::pointer_set<int> set;
    std::set<int*> model;
    for (const auto& [insert, which] : ops) {
      int* p = &pool[which];
      if (insert)
        RC_ASSERT(set.insert(p) == model.insert(p).second);
      else
        RC_ASSERT(set.erase(p) == (model.erase(p) == 1));
      RC_ASSERT(set.size() == model.size());
    }
    std::set<int*> seen;
    set.for_each([&](int* p) { RC_ASSERT(seen.insert(p).second); });
    RC_ASSERT(seen == model);
    for (int& x : pool) RC_ASSERT(set.contains(&x) == model.contains(&x));
  });
}

TEST_CASE("pointer_set keeps every element while it grows in steps, whatever is erased meanwhile") {
  // Enough elements for many growths (8 -> 262,144 slots), each drained over
  // the following inserts and erases (store/draining_slots.hpp): lookups,
  // erases and re-inserts hit elements in both the old and the new slots.
  constexpr std::size_t pool_size = 150'000;
  std::vector<int> pool(pool_size);
  domain::pointer_set<int> set;
  std::set<int*> model;
  std::mt19937 random(20261204);
  std::uniform_int_distribution<std::size_t> pick(0, pool_size - 1);
  for (int op = 0; op < 400'000; ++op) {
    int* p = &pool[pick(random)];
    // Three inserts for one erase: the set grows through every size.
    if (op % 4 != 3)
      REQUIRE(set.insert(p) == model.insert(p).second);
    else
      REQUIRE(set.erase(p) == (model.erase(p) == 1));
    REQUIRE(set.size() == model.size());
    int* other = &pool[pick(random)];
    REQUIRE(set.contains(other) == model.contains(other));
    if (op % 50'000 == 0 || op == 399'999) {
      std::set<int*> seen;
      set.for_each([&](int* q) { REQUIRE(seen.insert(q).second); });
      REQUIRE(seen == model);
    }
  }
  CHECK(model.size() > 100'000);
  // Emptied again: the table halves as it goes, and every erase finds its element.
  for (int* p : std::vector<int*>(model.begin(), model.end())) REQUIRE(set.erase(p));
  CHECK(set.empty());
  for (int& x : pool) REQUIRE_FALSE(set.contains(&x));
}

TEST_CASE("the hardware tree finds every node while its table grows in steps") {
  replica d;
  d.put("datacenter/dc1", datacenter(1));
  d.put("cabinet/c1", cabinet("dc1"));
  // 20,000 servers; as they come, older ones are removed or rewritten: the
  // node table grows through 16 -> 32,768 slots and drains while nodes come
  // and go, so lookups land in both the old and the new slots.
  std::map<int, int> cores;  // the model: alive server -> cores
  for (int i = 0; i < 20'000; ++i) {
    d.put("server/s" + std::to_string(i), server("c1", 1));
    cores[i] = 1;
    if (i % 10 == 9) {
      d.remove("server/s" + std::to_string(i - 5));
      cores.erase(i - 5);
    }
    if (i % 7 == 0 && i >= 100 && cores.contains(i - 100)) {
      d.put("server/s" + std::to_string(i - 100), server("c1", 3));
      cores[i - 100] = 3;
    }
  }
  std::int64_t expected = 0;
  for (const auto& [id, n] : cores) expected += n;
  CHECK(d.capacity->capacity({})[dimension::cpu] == expected);
  CHECK(d.capacity->hardware().node_count() == cores.size() + 2);  // and the datacenter and the cabinet
  check_equals_rebuild(d);
}
