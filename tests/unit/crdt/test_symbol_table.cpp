// Interned names: stable ids, bounded size, lock-free reads while interning.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "horao/crdt/symbol_table.hpp"

using horao::crdt::symbol_table;

TEST_CASE("symbol_table gives one stable id per name") {
  symbol_table table;
  CHECK(table.size() == 1);
  CHECK(table.name(0).empty());  // id 0 is the empty name
  CHECK(table.intern("") == 0u);
  const auto a = table.intern("dc-ams");
  const auto b = table.intern("dc-fra");
  REQUIRE(a);
  REQUIRE(b);
  CHECK(*a != *b);
  CHECK(table.intern("dc-ams") == a);
  CHECK(table.find("dc-fra") == b);
  CHECK_FALSE(table.find("dc-lon").has_value());
  CHECK(table.name(*a) == "dc-ams");
  CHECK(table.size() == 3);
}

TEST_CASE("symbol_table keeps each name's JSON member opening, escaped as JSON writes it") {
  symbol_table table;
  for (const std::string name : {"cpus", "a\"b", "back\\slash", "tab\there", "\x01", "caf\xc3\xa9", ""}) {
    const auto id = table.intern(name);
    REQUIRE(id);
    CAPTURE(name);
    CHECK(table.json_member(*id) == nlohmann::json(name).dump() + ":");
  }
}

TEST_CASE("symbol_table is bounded: long names and a full table are refused") {
  symbol_table table;
  CHECK(table.intern(std::string(symbol_table::max_name_length, 'x')).has_value());
  CHECK_FALSE(table.intern(std::string(symbol_table::max_name_length + 1, 'x')).has_value());
  while (table.size() < symbol_table::capacity) REQUIRE(table.intern("n" + std::to_string(table.size())));
  CHECK_FALSE(table.intern("one-too-many").has_value());
  // Known names still resolve when the table is full.
  CHECK(table.intern("n5").has_value());
  CHECK(table.name(*table.find("n5")) == "n5");
}

TEST_CASE("symbol_table reads are safe while another thread interns") {
  symbol_table table;
  constexpr std::uint32_t count = 5000;
  std::thread writer([&] {
    for (std::uint32_t i = 1; i <= count; ++i) table.intern("name-" + std::to_string(i));
  });
  // Every id below size() is readable and holds its final name.
  std::uint32_t checked = 0;
  while (checked < count) {
    const std::uint32_t size = table.size();
    for (std::uint32_t id = checked + 1; id < size; ++id)
      REQUIRE(table.name(id) == "name-" + std::to_string(id));
    checked = size - 1;
  }
  writer.join();
  CHECK(table.size() == count + 1);
}
