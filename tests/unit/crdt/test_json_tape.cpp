// json_tape: reads exactly the JSON texts nlohmann reads (refusing also
// duplicate members and excess depth), types numbers as nlohmann does, and
// writes back exactly what nlohmann's dump() writes. nlohmann is the
// reference implementation in every property here.
#include <rapidcheck/catch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "generators.hpp"
#include "horao/crdt/json_tape.hpp"

using horao::crdt::append_canonical;
using horao::crdt::json_tape;
using horao::crdt::json_tape_error;
using horao::crdt::json_type;

namespace {

// The tape views the text: callers keep it alive while they use the tape.
std::optional<json_tape> read(std::string_view text, std::size_t max_depth = 64) {
  auto r = json_tape::parse(text, max_depth);
  if (auto* t = std::get_if<json_tape>(&r)) return std::move(*t);
  return std::nullopt;
}

std::string error_of(std::string_view text, std::size_t max_depth = 64) {
  auto r = json_tape::parse(text, max_depth);
  if (auto* e = std::get_if<json_tape_error>(&r)) return e->message;
  return "accepted";
}

std::string canonical(const json_tape& tape, std::uint32_t node = json_tape::root) {
  std::string out;
  append_canonical(tape, node, out);
  return out;
}

// nlohmann's own reading of `text`: its dump, or nothing when it refuses.
std::optional<std::string> reference(const std::string& text) {
  try {
    return nlohmann::json::parse(text).dump();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Whether an object anywhere in `text` repeats a member (nlohmann keeps the
// last one; the tape refuses). Only called on texts nlohmann accepts.
bool has_duplicate_member(const std::string& text) {
  // A text whose objects name n members holds fewer after nlohmann's parse
  // exactly when one repeats.
  std::size_t keys = 0;
  const auto parsed =
      nlohmann::json::parse(text, [&](int, nlohmann::json::parse_event_t event, nlohmann::json&) {
        keys += event == nlohmann::json::parse_event_t::key;
        return true;
      });
  std::size_t kept = 0;
  std::function<void(const nlohmann::json&)> count = [&](const nlohmann::json& j) {
    if (j.is_object()) {
      kept += j.size();
      for (const auto& [k, v] : j.items()) count(v);
    } else if (j.is_array()) {
      for (const auto& v : j) count(v);
    }
  };
  count(parsed);
  return kept != keys;
}

}  // namespace

TEST_CASE("json_tape writes back exactly what nlohmann's dump() writes") {
  rc::prop("compact and indented texts of random values", [] {
    const auto j = *rc::gen::resize(30, horao::test::gen_json(4));
    const int indent = *rc::gen::element(-1, 0, 2);
    const std::string text = j.dump(indent);
    const auto tape = read(text);
    RC_ASSERT(tape.has_value());
    RC_ASSERT(canonical(*tape) == j.dump());
  });
  for (const char* text : {"0",
                           "-0",
                           "-1",
                           "18446744073709551615",
                           "18446744073709551616",
                           "-9223372036854775808",
                           "-9223372036854775809",
                           "1.5",
                           "-0.0",
                           "3.1",
                           "1E2",
                           "1e-400",
                           "2.50",
                           "1e+100",
                           "\"\"",
                           "\"a\\u001fb\\n\\/\"",
                           "\"\\ud83d\\ude00\\u00e9\"",
                           "\"\x7f\"",
                           "[]",
                           "{}",
                           " [1, [2, {}]] ",
                           "{\"b\":[true,false,null],\"a\":1}",
                           "{\"\\u0061\":1,\"b\":2}"}) {
    CAPTURE(text);
    const auto tape = read(text);
    REQUIRE(tape);
    CHECK(canonical(*tape) == reference(text));
  }
}

TEST_CASE("strings: every byte that needs care, at every place of a word-sized scan") {
  // Strings are scanned eight bytes at a time; a byte to escape, a quote or
  // a non-ASCII sequence must be found wherever it falls in a word and in
  // the bytes after the last whole word.
  const std::string specials[] = {"\"", "\\", "\x01", "\n", "\x1f", "\x7f", "\xc3\xa9", "\xe2\x82\xac", " "};
  for (std::size_t length = 0; length <= 20; ++length) {
    for (std::size_t at = 0; at <= length; ++at) {
      for (const auto& special : specials) {
        std::string value(length, 'a');
        value.insert(at, special);
        CAPTURE(length, at, special);
        std::string quoted;
        horao::crdt::append_json_quoted(value, quoted);
        CHECK(quoted == nlohmann::json(value).dump());
        const auto tape = read(quoted);
        REQUIRE(tape);
        CHECK(tape->string(json_tape::root) == value);
        // Unescaped in the text: a quote ends the string early, a control byte is refused.
        const std::string raw = "\"" + value + "\"";
        const bool nlohmann_accepts = nlohmann::json::accept(raw);
        CHECK(read(raw).has_value() == nlohmann_accepts);
      }
      for (const std::string invalid_utf8 : {"\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80"}) {
        std::string raw = "\"" + std::string(length, 'a') + "\"";
        raw.insert(1 + at, invalid_utf8);
        CAPTURE(length, at, invalid_utf8);
        CHECK_FALSE(read(raw).has_value());
        CHECK_FALSE(nlohmann::json::accept(raw));
      }
    }
  }
}

TEST_CASE("append_json_double writes a double as nlohmann's dump() does") {
  rc::prop("random doubles", [](double d) {
    std::string out;
    horao::crdt::append_json_double(d, out);
    RC_ASSERT(out == nlohmann::json(d).dump());
  });
  for (double d : {0.0, -0.0, 1.0, 3.1, 1e300, -1e-300, 5e-324, 1.7976931348623157e308, 0.1 + 0.2,
                   std::nan(""), std::numeric_limits<double>::infinity()}) {
    std::string out;
    horao::crdt::append_json_double(d, out);
    CHECK(out == nlohmann::json(d).dump());
  }
}

TEST_CASE("json_tape types numbers as nlohmann does") {
  const auto type_of = [](const char* text) { return (*read(text))[json_tape::root].type; };
  CHECK(type_of("0") == json_type::unsigned_integer);
  CHECK(type_of("-0") == json_type::integer);
  CHECK(type_of("9223372036854775808") == json_type::unsigned_integer);
  CHECK(type_of("-9223372036854775808") == json_type::integer);
  CHECK(type_of("-9223372036854775809") == json_type::floating);
  CHECK(type_of("18446744073709551616") == json_type::floating);
  CHECK(type_of("2.0") == json_type::floating);
  CHECK(type_of("1e2") == json_type::floating);
  CHECK((*read("-42"))[0].integer == -42);
  CHECK((*read("1e-400"))[0].floating == 0.0);
  CHECK((*read("3.1"))[0].floating == 3.1);
}

TEST_CASE("json_tape accepts a text exactly when nlohmann does, unless it repeats a member") {
  rc::prop("texts with one byte changed, dropped or inserted", [] {
    std::string text = (*horao::test::gen_json(3)).dump(*rc::gen::element(-1, 1));
    const auto op = *rc::gen::inRange(0, 3);
    const auto pos = *rc::gen::inRange<std::size_t>(0, text.size() + 1);
    const char c = *rc::gen::element<char>(' ', ',', ':', '[', ']', '{', '}', '"', '\\', '0', '1', '-', '.',
                                           'e', 'E', '+', 'a', 'u', 't', 'n', '\n', '\t', '\x01', '\x7f',
                                           '\xc3', '\xa9', '\xed', '\xff');
    if (op == 0 && pos < text.size()) text[pos] = c;
    if (op == 1 && pos < text.size()) text.erase(pos, 1);
    if (op == 2) text.insert(pos, 1, c);
    const auto expected = reference(text);
    const auto tape = read(text);
    if (tape) {
      RC_ASSERT(expected.has_value());
      RC_ASSERT(canonical(*tape) == *expected);
    } else if (expected) {
      RC_ASSERT(has_duplicate_member(text));
    }
  });
}

TEST_CASE("json_tape refuses what a body may not be, with the place") {
  for (const char* text : {"",
                           " ",
                           "{",
                           "[1,]",
                           "{\"a\":1,}",
                           "{'a':1}",
                           "{} x",
                           "01",
                           "-",
                           "1.",
                           ".5",
                           "1e",
                           "+1",
                           "NaN",
                           "Infinity",
                           "tru",
                           "nul",
                           "[1 2]",
                           "{\"a\" 1}",
                           "{\"a\":}",
                           "{1:2}",
                           "\"\\x\"",
                           "\"\\u12\"",
                           "\"\\ud800\"",
                           "\"\\udc00\"",
                           "\"\\ud800\\u0041\"",
                           "\"a\nb\"",
                           "\"\x01\"",
                           "\"\xff\"",
                           "\"\xc3\"",
                           "\"\xed\xa0\x80\"",
                           "\"\xc0\xaf\"",
                           "\"unterminated",
                           "1e400",
                           "-1e400",
                           "[1]]"}) {
    CAPTURE(text);
    CHECK(error_of(text) != "accepted");
    CHECK_FALSE(reference(text).has_value());
  }
  auto r = json_tape::parse("{\"a\": tru}", 64);
  REQUIRE(std::holds_alternative<json_tape_error>(r));
  CHECK(std::get<json_tape_error>(r).offset == 6);
  CHECK(std::get<json_tape_error>(r).message.find("byte 6") != std::string::npos);
  CHECK(error_of("[1,2").find("end of the text") != std::string::npos);
}

TEST_CASE("json_tape refuses duplicate members in small and large objects") {
  CHECK(error_of(R"({"a":1,"a":2})") == "duplicate member \"a\"");
  CHECK(error_of(R"({"x":{"b":1,"c":2,"b":3}})") == "duplicate member \"b\"");
  CHECK(error_of(R"({"\u0061":1,"a":2})") == "duplicate member \"a\"");
  std::string large = "{";
  for (int i = 0; i < 200; ++i) large += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  const std::string fine = large + "\"k200\":0}";
  CHECK(read(fine));
  const std::string twice = large + "\"k17\":0}";
  CHECK(error_of(twice) == "duplicate member \"k17\"");
}

TEST_CASE("json_tape bounds nesting without recursing") {
  const auto nested = [](std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  const std::string deepest = nested(64), too_deep = nested(65), huge(1'000'000, '[');
  CHECK(read(deepest));
  CHECK(error_of(too_deep) == "nesting deeper than 64 levels");
  CHECK(error_of(huge) == "nesting deeper than 64 levels");
  const std::string three = nested(3), four = nested(4);
  CHECK(read(three, 3));
  CHECK_FALSE(read(four, 3));
}

TEST_CASE("json_tape: members, items, erasure and skipping") {
  auto tape = *read(R"({"id":"s1","cpus":[{"cores":64},{"cores":32}],"name":"a\"b","n":null})");
  const auto cpus = tape.find_member(json_tape::root, "cpus");
  REQUIRE(cpus != json_tape::npos);
  CHECK(tape[cpus].type == json_type::array);
  CHECK(tape[cpus].count == 2);
  std::vector<std::string> items;
  tape.for_each_item(cpus, [&](std::uint32_t item) { items.push_back(canonical(tape, item)); });
  CHECK(items == std::vector<std::string>{"{\"cores\":64}", "{\"cores\":32}"});
  CHECK(tape.string(tape.find_member(json_tape::root, "name")) == "a\"b");
  CHECK(tape[tape.find_member(json_tape::root, "n")].type == json_type::null);
  CHECK(tape.find_member(json_tape::root, "missing") == json_tape::npos);

  const auto id = tape.find_member(json_tape::root, "id");
  tape.erase_member(id - 1);
  CHECK(tape.find_member(json_tape::root, "id") == json_tape::npos);
  std::vector<std::string> names;
  tape.for_each_member(json_tape::root,
                       [&](std::uint32_t name, std::uint32_t) { names.emplace_back(tape.string(name)); });
  CHECK(names == std::vector<std::string>{"cpus", "name", "n"});
  CHECK(canonical(tape) == R"({"cpus":[{"cores":64},{"cores":32}],"n":null,"name":"a\"b"})");
}

TEST_CASE("json_tape from a tree keeps what text could not carry") {
  using nlohmann::json;
  json tree = {{"name", std::string("a\xff")}, {"x", std::nan("")}, {"list", {1, -2, 2.5, "s"}}};
  const auto tape = json_tape::from_tree(tree);
  REQUIRE(tape);
  CHECK(tape->string(tape->find_member(json_tape::root, "name")) == std::string("a\xff"));
  CHECK(std::isnan((*tape)[tape->find_member(json_tape::root, "x")].floating));
  const auto list = tape->find_member(json_tape::root, "list");
  CHECK(canonical(*tape, list) == "[1,-2,2.5,\"s\"]");
  CHECK_FALSE(json_tape::from_tree(json::binary({1, 2})));
  rc::prop("a tree's tape writes back its dump", [] {
    const auto j = *rc::gen::resize(30, horao::test::gen_json(4));
    const auto t = json_tape::from_tree(j);
    RC_ASSERT(t.has_value());
    RC_ASSERT(canonical(*t) == j.dump());
  });
}
