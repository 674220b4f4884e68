// json_text, the 16-byte field value: the inline/heap boundary, value
// semantics, interning of long texts, and comparisons that order exactly as std::string does (merge
// breaks stamp ties with `<`, so any difference would change the lattice).

#include <rapidcheck/catch.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <compare>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "horao/crdt/json_text.hpp"
#include "horao/crdt/record.hpp"

using horao::crdt::json_text;
using namespace std::string_literals;

namespace Catch {
template <>
struct StringMaker<json_text> {
  static std::string convert(const json_text& t) { return StringMaker<std::string>::convert(t.str()); }
};
}  // namespace Catch

namespace {

// -1, 0 or 1: comparable across std::string and json_text, and printable by
// RapidCheck (orderings are not).
int sign(std::strong_ordering o) {
  return o < 0 ? -1 : o > 0 ? 1 : 0;
}

// Byte strings of 0..40 bytes, around the 15/16 boundary. Half of them come
// from a four-letter alphabet of NUL, 'a', 0x80 and 0xff, so that equal texts,
// shared prefixes, embedded NULs and bytes >= 0x80 are all common.
rc::Gen<std::string> gen_bytes() {
  const auto any_byte = rc::gen::map(rc::gen::inRange(0, 256), [](int b) { return static_cast<char>(b); });
  const auto few_bytes = rc::gen::element('\0', 'a', '\x80', '\xff');
  return rc::gen::resize(40, rc::gen::oneOf(rc::gen::container<std::string>(any_byte),
                                            rc::gen::container<std::string>(few_bytes)));
}

void check_holds(const json_text& t, const std::string& expected) {
  CHECK(t.size() == expected.size());
  CHECK(t.empty() == expected.empty());
  CHECK(t.view() == expected);
  CHECK(std::string_view(t) == expected);
  CHECK(t.str() == expected);
  CHECK(t == expected);
}

}  // namespace

TEST_CASE("json_text is 16 bytes and keeps field_entry at 40") {
  STATIC_REQUIRE(sizeof(json_text) == 16);
  STATIC_REQUIRE(sizeof(horao::crdt::field_entry) <= 40);
}

TEST_CASE("json_text holds texts on both sides of the inline limit") {
  CHECK(json_text().empty());
  CHECK(json_text().size() == 0);
  CHECK(json_text().view().empty());
  for (std::size_t n : {0, 1, 14, 15, 16, 17, 255, 256, 100'000}) {
    CAPTURE(n);
    std::string text(n, 'x');
    for (std::size_t i = 0; i < n; ++i) text[i] = static_cast<char>('a' + i % 26);
    check_holds(json_text(text), text);
    check_holds(json_text(std::string_view(text)), text);
    check_holds(json_text(text.c_str()), text);
  }
  check_holds(json_text("a\0b"s), "a\0b"s);  // embedded NUL kept, not cut
  check_holds(json_text(std::string(20, '\0')), std::string(20, '\0'));
}

TEST_CASE("json_text copies and moves as a value") {
  for (std::size_t n : {0, 3, 15, 16, 64}) {
    CAPTURE(n);
    const std::string text(n, 'v');
    json_text original(text);

    json_text copy(original);
    check_holds(copy, text);
    check_holds(original, text);
    // A short copy holds its own bytes; a long one shares the interned block.
    if (n > 0 && n <= json_text::inline_capacity) CHECK(copy.data() != original.data());
    if (n > json_text::inline_capacity) CHECK(copy.data() == original.data());

    json_text moved(std::move(copy));
    check_holds(moved, text);
    CHECK(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract

    json_text assigned("something else entirely, on the heap");
    assigned = original;
    check_holds(assigned, text);
    json_text move_assigned("short");
    move_assigned = std::move(assigned);
    check_holds(move_assigned, text);
    CHECK(assigned.empty());  // NOLINT(bugprone-use-after-move)

    // Self-assignment, through a reference so the compiler does not object.
    json_text& same = original;
    original = same;
    check_holds(original, text);
    original = std::move(same);
    check_holds(original, text);
    // Assigning the text's own bytes (same size, and a part of them).
    original = original.view();
    check_holds(original, text);
    original = original.view().substr(n / 2);
    check_holds(original, text.substr(n / 2));
  }
  STATIC_REQUIRE(std::is_nothrow_move_constructible_v<json_text>);
  STATIC_REQUIRE(std::is_nothrow_move_assignable_v<json_text>);
}

TEST_CASE("json_text assigns from std::string, string_view and literals across the boundary") {
  json_text t;
  const std::string long_a(40, 'a');
  const std::string long_b(40, 'b');
  const std::string longer(90, 'c');
  t = long_a;  // inline -> heap
  check_holds(t, long_a);
  t = std::string_view(long_b);  // heap -> heap, same size (another block: blocks are shared)
  check_holds(t, long_b);
  t = longer;  // heap -> heap, another size
  check_holds(t, longer);
  t = "\"cab1\"";  // heap -> inline
  check_holds(t, "\"cab1\"");
  t = "";
  check_holds(t, "");
}

TEST_CASE("json_text compares equal exactly when std::string does") {
  CHECK(json_text("64") == json_text("64"));
  CHECK(json_text("64") != json_text("640"));
  CHECK(json_text("a\0b"s) != json_text("a\0c"s));
  CHECK(json_text("a"s) != json_text("a\0"s));
  CHECK(json_text(std::string(16, 'x')) == std::string(16, 'x'));
  CHECK(json_text(std::string(16, 'x')) != std::string(15, 'x'));
  CHECK(json_text("true") == "true");
  CHECK("true" == json_text("true"));
  CHECK(std::string_view("true") == json_text("true"));
  CHECK(std::string("true") == json_text("true"));
}

TEST_CASE("json_text orders byte-wise, as std::string does") {
  rc::prop("ordering and equality agree with std::string", [] {
    const std::string a = *gen_bytes();
    const std::string b = *gen_bytes();
    const json_text ta(a), tb(b);
    RC_ASSERT(sign(ta <=> tb) == sign(a <=> b));
    RC_ASSERT((ta < tb) == (a < b));
    RC_ASSERT((tb < ta) == (b < a));
    RC_ASSERT((ta <= tb) == (a <= b));
    RC_ASSERT((ta == tb) == (a == b));
    RC_ASSERT((ta != tb) == (a != b));
    RC_ASSERT((ta < b) == (a < b));
    RC_ASSERT((std::string_view(a) < tb) == (a < b));
  });
  rc::prop("a text round-trips and equals itself", [] {
    const std::string a = *gen_bytes();
    const json_text t(a);
    RC_ASSERT(t.str() == a);
    RC_ASSERT(t.size() == a.size());
    RC_ASSERT(t == json_text(t));
  });
  // Bytes >= 0x80 sort after ASCII, as in std::string (unsigned comparison).
  CHECK(json_text("\x80") > json_text("z"));
  CHECK(json_text(std::string(16, 'a') + "\xff") > json_text(std::string(16, 'a') + "b"));
  CHECK(json_text("ab") < json_text("ab\0"s));  // a prefix sorts first
}

TEST_CASE("equal long texts share one interned block, freed with its last holder") {
  const std::size_t before = json_text::interned_count();
  const std::string cpus = R"([{"clock_ghz":3.1,"cores":64,"model":"EPYC 9554"}])";
  {
    json_text a(cpus);
    json_text b(std::string_view{cpus});  // built from other bytes: found in the table
    json_text c = a;                      // a copy: the same block
    CHECK(a.data() == b.data());
    CHECK(a.data() == c.data());
    CHECK(json_text::interned_count() == before + 1);
    // Assigning to one holder points it elsewhere; the others keep their text.
    b = std::string(cpus.size(), 'x');
    CHECK(a == cpus);
    CHECK(c == cpus);
    CHECK(b == std::string(cpus.size(), 'x'));
    CHECK(json_text::interned_count() == before + 2);
    a = json_text{};
    CHECK(c == cpus);
  }
  CHECK(json_text::interned_count() == before);
}

TEST_CASE("interned texts survive holders on several threads at once") {
  const std::size_t before = json_text::interned_count();
  const std::vector<std::string> texts = {std::string(40, 'a'), std::string(40, 'b'), std::string(100, 'c')};
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<json_text> held;
      for (int i = 0; i < 20000; ++i) {
        const std::string& want = texts[static_cast<std::size_t>(i + t) % texts.size()];
        held.emplace_back(want);
        if (held.back() != want) ++wrong;
        if (held.size() > 8) held.erase(held.begin(), held.begin() + (i % 7) + 1);  // last holders go
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong == 0);
  CHECK(json_text::interned_count() == before);
}
