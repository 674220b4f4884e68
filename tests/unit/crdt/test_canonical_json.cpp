// is_canonical_json: true exactly for the texts nlohmann's dump() produces
// (never true for anything else), so readers can skip parse-and-print.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <rapidcheck/catch.h>

#include "generators.hpp"
#include "horao/crdt/canonical_json.hpp"

using horao::crdt::is_canonical_json;

namespace {

// What parse-then-dump makes of `text`, or nothing when it is not JSON.
std::optional<std::string> reprinted(const std::string& text) {
  try {
    auto j = nlohmann::json::parse(text);
    return j.dump();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

TEST_CASE("is_canonical_json accepts what dump() prints") {
  rc::prop("every dumped value is canonical", [] {
    const auto j = *horao::test::gen_json(3);
    RC_ASSERT(is_canonical_json(j.dump(), 64));
  });
  for (const char* text : {"0", "-1", "18446744073709551615", "-9223372036854775808", "1.5", "-0.0", "3.1",
                           "1e+100", "\"\"", "\"a\\u001fb\\n\"", "\"\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80\"",
                           "[]", "{}", "[1,[2,{}]]", "{\"a\":1,\"b\":[true,false,null]}", "\"\x7f\""}) {
    CAPTURE(text);
    CHECK(reprinted(text) == std::string(text));
    CHECK(is_canonical_json(text, 64));
  }
}

TEST_CASE("is_canonical_json refuses everything dump() would print differently") {
  for (const char* text :
       {"", " 1", "1 ", "01", "-0", "1.50", "1E2", "1e2", "18446744073709551616", "-9223372036854775809",
        "[1, 2]", "{\"b\":1,\"a\":2}", "{\"a\":1,\"a\":2}", "\"\\/\"", "\"\\u0041\"", "\"\\u001F\"",
        "\"\\u000a\"", "\"\xc3\"", "\"\xed\xa0\x80\"", "\"\xc0\xaf\"", "\"a\nb\"", "tru", "nul", "[", "[1,]",
        "{\"a\"}", "{\"a\":}", "{,}", "1 2", "[1]]", "\"unterminated", "{\"\\u0061\":1}", "NaN", "-"}) {
    CAPTURE(text);
    CHECK_FALSE(is_canonical_json(text, 64));
  }
  // Nesting beyond the limit.
  CHECK(is_canonical_json("[[[]]]", 3));
  CHECK_FALSE(is_canonical_json("[[[[]]]]", 3));
  CHECK_FALSE(is_canonical_json(std::string(100, '[') + std::string(100, ']'), 200));  // 64 at most
}

TEST_CASE("is_canonical_json is never true for a text dump() would change") {
  // Canonical texts with one byte changed, dropped or inserted: whatever the
  // checker accepts must reprint to itself.
  rc::prop("mutated texts", [] {
    std::string text = (*horao::test::gen_json(3)).dump();
    const auto op = *rc::gen::inRange(0, 3);
    const auto pos = *rc::gen::inRange<std::size_t>(0, text.size() + 1);
    const char c = *rc::gen::element<char>(' ', ',', ':', '[', ']', '{', '}', '"', '\\', '0', '1', '-', '.', 'e',
                                           'a', 'u', '\n', '\x7f', '\xc3', '\xa9');
    if (op == 0 && pos < text.size()) text[pos] = c;
    if (op == 1 && pos < text.size()) text.erase(pos, 1);
    if (op == 2) text.insert(pos, 1, c);
    if (is_canonical_json(text, 64)) RC_ASSERT(reprinted(text) == text);
  });
}
