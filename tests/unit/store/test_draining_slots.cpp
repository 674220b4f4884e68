// store/draining_slots.hpp on a toy linear-probing table: a drain moves whole
// probe runs in bounded steps, keeps every entry findable, and gives the old
// slots' memory back when it ends. The three tables that use it are tested
// through their owners (test_record_store, test_capacity_compact).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "horao/store/draining_slots.hpp"

namespace {

struct slot {
  std::uint64_t key = 0;  // 0: empty
};

bool is_empty(const slot& s) {
  return s.key == 0;
}

std::size_t home(std::uint64_t key, std::size_t count) {
  return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ULL) >> 40) % count;
}

void place(horao::store::slot_vector<slot>& slots, slot s) {
  std::size_t i = home(s.key, slots.size());
  while (!is_empty(slots[i])) i = i + 1 == slots.size() ? 0 : i + 1;
  slots[i] = s;
}

bool contains(const horao::store::slot_vector<slot>& slots, std::uint64_t key) {
  if (slots.empty()) return false;
  for (std::size_t i = home(key, slots.size());; i = i + 1 == slots.size() ? 0 : i + 1) {
    if (slots[i].key == key) return true;
    if (is_empty(slots[i])) return false;
  }
}

}  // namespace

TEST_CASE("draining_slots: runs move whole in bounded steps and every entry stays findable") {
  // A nearly full table (3/4) of 4,096 slots, with long runs.
  horao::store::slot_vector<slot> old(4096);
  std::set<std::uint64_t> keys;
  std::mt19937_64 random(7);
  while (keys.size() < 3072) {
    const std::uint64_t key = random() | 1;
    if (keys.insert(key).second) place(old, {key});
  }
  // The longest run bounds how far a step may go past its budget.
  std::size_t longest = 0;
  for (std::size_t i = 0, run = 0; i < 2 * old.size(); ++i) {
    run = is_empty(old[i % old.size()]) ? 0 : run + 1;
    longest = std::max(longest, run);
  }

  horao::store::slot_vector<slot> grown(8192);
  CHECK(std::all_of(grown.begin(), grown.end(), is_empty));  // zero, not written
  horao::store::draining_slots<slot> drain;
  drain.start(std::move(old), keys.size(), is_empty);
  REQUIRE(drain.active());
  CHECK(drain.entries() == keys.size());

  std::size_t steps = 0;
  while (drain.active()) {
    std::size_t moved = 0;
    drain.step(is_empty, [&](const slot& s) {
      place(grown, s);
      ++moved;
    });
    ++steps;
    CHECK(moved <= horao::store::draining_slots<slot>::step_budget + longest);
    // Every entry is in exactly one of the two tables, and findable there.
    for (std::uint64_t key : keys) {
      const bool in_new = contains(grown, key);
      const bool in_old = drain.active() && contains(drain.old(), key);
      REQUIRE(in_new != in_old);
    }
  }
  CHECK(steps >= 4096 / (horao::store::draining_slots<slot>::step_budget + longest));  // no step did it all
  CHECK(drain.entries() == 0);
  CHECK(drain.old().empty());  // the old slots' memory went back
  for (std::uint64_t key : keys) REQUIRE(contains(grown, key));
}

TEST_CASE("draining_slots: an empty table drains at once, and finish moves everything left") {
  horao::store::draining_slots<slot> drain;
  drain.start(horao::store::slot_vector<slot>(64), 0, is_empty);
  CHECK_FALSE(drain.active());

  horao::store::slot_vector<slot> old(64);
  for (std::uint64_t key = 1; key <= 40; ++key) place(old, {key});
  horao::store::slot_vector<slot> grown(128);
  drain.start(std::move(old), 40, is_empty);
  drain.step(
      is_empty, [&](const slot& s) { place(grown, s); }, 1);
  CHECK(drain.active());
  drain.finish(is_empty, [&](const slot& s) { place(grown, s); });
  CHECK_FALSE(drain.active());
  for (std::uint64_t key = 1; key <= 40; ++key) CHECK(contains(grown, key));
}

TEST_CASE("slot_allocator: large arrays come zeroed from the kernel, small ones zeroed too") {
  for (std::size_t count : {std::size_t{3}, std::size_t{1000}, std::size_t{1} << 17}) {  // 24 B .. 1 MiB
    horao::store::slot_vector<slot> slots(count);
    REQUIRE(slots.size() == count);
    CHECK(std::all_of(slots.begin(), slots.end(), is_empty));
    slots[count - 1].key = 5;  // writable to the end
    CHECK(slots[count - 1].key == 5);
  }
}
