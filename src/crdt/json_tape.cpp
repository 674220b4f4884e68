#include "horao/crdt/json_tape.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "horao/crdt/utf8.hpp"

namespace horao::crdt {
namespace {

// What a byte means inside a JSON string: most bytes are plain and are
// skipped or copied in runs, with one table lookup each.
enum char_class : std::uint8_t { plain, quote, backslash, control, non_ascii };

constexpr std::array<std::uint8_t, 256> string_classes = [] {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = control;
  for (int c = 0x80; c < 0x100; ++c) t[static_cast<std::size_t>(c)] = non_ascii;
  t['"'] = quote;
  t['\\'] = backslash;
  return t;
}();

std::uint8_t class_of(char c) {
  return string_classes[static_cast<unsigned char>(c)];
}

// Eight bytes at a time: strings are mostly long runs of plain bytes (ids,
// names, models), and a byte-per-byte table loop was the largest part of
// reading and writing them. In a word w, (w - n * ones) & ~w & highs flags
// each byte below n (n <= 0x80); a borrow can also flag bytes above a
// flagged one, never below, so the lowest flag is always a true one.
constexpr std::uint64_t ones = 0x0101010101010101ULL;
constexpr std::uint64_t highs = 0x8080808080808080ULL;

std::uint64_t bytes_below(std::uint64_t w, std::uint8_t n) {
  return (w - ones * n) & ~w & highs;
}
std::uint64_t bytes_equal(std::uint64_t w, char c) {
  return bytes_below(w ^ (ones * static_cast<unsigned char>(c)), 1);
}

// The offset of the first byte at or after `from` that is not plain ASCII
// inside a JSON string (a quote, a backslash, a control byte, and, when
// `stop_at_non_ascii`, a byte >= 0x80), or text.size().
std::size_t skip_plain(std::string_view text, std::size_t from, bool stop_at_non_ascii) {
  std::size_t i = from;
  for (; i + 8 <= text.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, text.data() + i, 8);  // little-endian hosts (x86-64, aarch64)
    std::uint64_t flags = bytes_below(w, 0x20) | bytes_equal(w, '"') | bytes_equal(w, '\\');
    if (stop_at_non_ascii) flags |= w & highs;
    if (flags != 0) return i + static_cast<std::size_t>(std::countr_zero(flags) / 8);
  }
  for (; i < text.size(); ++i) {
    const std::uint8_t k = class_of(text[i]);
    if (k != plain && (stop_at_non_ascii || k != non_ascii)) break;
  }
  return i;
}

}  // namespace

// Reads one value with an explicit stack of open containers: input depth
// never becomes call depth.
class json_tape_parser {
 public:
  json_tape_parser(std::string_view text, std::size_t max_depth, json_tape& tape)
      : t_(text), max_depth_(max_depth), tape_(tape) {}

  bool run();
  json_tape_error error() { return {std::move(message_), error_at_}; }

 private:
  bool value();
  bool member_name(std::string_view what);
  bool string_node();
  bool number_node();
  bool literal(std::string_view word, json_type type, bool boolean);
  bool open(json_type type);
  bool close();
  bool unique_members(std::uint32_t object);
  bool decode_escaped(std::size_t start);
  bool escape(std::size_t& i, std::string& out);
  bool hex4(std::size_t i, unsigned& out);

  void skip_whitespace() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\n' || t_[i_] == '\r' || t_[i_] == '\t')) ++i_;
  }
  bool at(char c) const { return i_ < t_.size() && t_[i_] == c; }
  json_node& push(json_type type) {
    auto& nodes = tape_.nodes_;
    nodes.emplace_back();
    nodes.back().type = type;
    nodes.back().end = static_cast<std::uint32_t>(nodes.size());
    return nodes.back();
  }
  bool fail(std::string message) { return fail_at(i_, std::move(message)); }
  bool fail_at(std::size_t at, std::string message) {
    message_ = std::move(message);
    error_at_ = at;
    return false;
  }
  std::string expected(std::string_view what) const {
    std::string m = "expected " + std::string(what) + " at byte " + std::to_string(i_);
    if (i_ >= t_.size()) return m + ", found the end of the text";
    const auto c = static_cast<unsigned char>(t_[i_]);
    if (c >= 0x20 && c < 0x7f) return m + ", found '" + std::string(1, static_cast<char>(c)) + "'";
    return m;
  }

  std::string_view t_;
  std::size_t i_ = 0;
  std::size_t max_depth_;
  json_tape& tape_;
  std::vector<std::uint32_t> open_;  // open containers, innermost last
  std::string message_;
  std::size_t error_at_ = 0;
};

bool json_tape_parser::run() {
  if (t_.size() >= UINT32_MAX) return fail("the text is larger than 4 GiB");
  tape_.nodes_.reserve(std::min<std::size_t>(t_.size() / 6 + 4, 1u << 16));
  open_.reserve(std::min<std::size_t>(max_depth_, 16));
  skip_whitespace();
  for (;;) {
    if (!value()) return false;
    // After a value: close what it ended, until one needs another value.
    for (;;) {
      skip_whitespace();
      if (open_.empty()) {
        if (i_ != t_.size()) return fail(expected("the end of the text after the JSON value"));
        return true;
      }
      json_node& container = tape_.nodes_[open_.back()];
      ++container.count;
      const bool object = container.type == json_type::object;
      if (at(',')) {
        ++i_;
        skip_whitespace();
        break;
      }
      if (at(object ? '}' : ']')) {
        ++i_;
        if (!close()) return false;
        continue;
      }
      return fail(expected(object ? "',' or '}'" : "',' or ']'"));
    }
    // Another item, or another member (its name and ':' first).
    if (tape_.nodes_[open_.back()].type == json_type::object && !member_name("a member name (a string)"))
      return false;
  }
}

// A member's name and the ':' after it; `what` says what was expected when
// there is no name.
bool json_tape_parser::member_name(std::string_view what) {
  if (!at('"')) return fail(expected(what));
  if (!string_node()) return false;
  skip_whitespace();
  if (!at(':')) return fail(expected("':' after a member name"));
  ++i_;
  skip_whitespace();
  return true;
}

// One value, or the opening of a container (then its first name or item).
bool json_tape_parser::value() {
  for (;;) {
    if (i_ >= t_.size()) return fail(expected("a value"));
    switch (t_[i_]) {
      case '{':
      case '[': {
        const bool object = t_[i_] == '{';
        if (!open(object ? json_type::object : json_type::array)) return false;
        ++i_;
        skip_whitespace();
        if (at(object ? '}' : ']')) {
          ++i_;
          // An empty container is a complete value; run() counts it in its parent.
          return close();
        }
        if (object && !member_name("a member name (a string) or '}'")) return false;
        continue;  // the first value inside
      }
      case '"':
        return string_node();
      case 't':
        return literal("true", json_type::boolean, true);
      case 'f':
        return literal("false", json_type::boolean, false);
      case 'n':
        return literal("null", json_type::null, false);
      default:
        if (t_[i_] == '-' || (t_[i_] >= '0' && t_[i_] <= '9')) return number_node();
        return fail(expected("a value"));
    }
  }
}

bool json_tape_parser::open(json_type type) {
  if (open_.size() >= max_depth_)
    return fail("nesting deeper than " + std::to_string(max_depth_) + " levels");
  push(type);
  open_.push_back(tape_.size() - 1);
  return true;
}

// Closes the innermost container; it becomes a complete value. The count of
// its parent is raised by run() when it sees what follows.
bool json_tape_parser::close() {
  const std::uint32_t index = open_.back();
  open_.pop_back();
  json_node& n = tape_.nodes_[index];
  n.end = tape_.size();
  if (n.type == json_type::object && !unique_members(index)) return false;
  return true;
}

bool json_tape_parser::unique_members(std::uint32_t object) {
  const auto report = [&](std::string_view name) {
    std::string quoted;
    std::size_t cut = 0;
    while (cut < name.size() && cut < 64) cut += std::max<std::size_t>(1, utf8_sequence_length(name, cut));
    append_json_quoted(name.substr(0, std::min(cut, name.size())), quoted);
    return fail_at(i_ - 1, "duplicate member " + quoted);
  };
  const json_node& n = tape_.nodes_[object];
  if (n.count <= 16) {
    std::string_view names[16];
    std::size_t k = 0;
    for (std::uint32_t i = object + 1; i < n.end; i = tape_.nodes_[i + 1].end) {
      const std::string_view name = tape_.string(i);
      for (std::size_t j = 0; j < k; ++j)
        if (names[j] == name) return report(name);
      names[k++] = name;
    }
    return true;
  }
  std::vector<std::string_view> names;
  names.reserve(n.count);
  for (std::uint32_t i = object + 1; i < n.end; i = tape_.nodes_[i + 1].end) names.push_back(tape_.string(i));
  std::sort(names.begin(), names.end());
  const auto twice = std::adjacent_find(names.begin(), names.end());
  if (twice != names.end()) return report(*twice);
  return true;
}

bool json_tape_parser::literal(std::string_view word, json_type type, bool boolean) {
  if (t_.substr(i_, word.size()) != word) return fail(expected("a value"));
  i_ += word.size();
  push(type).boolean = boolean;
  return true;
}

bool json_tape_parser::string_node() {
  const std::size_t start = ++i_;  // after the opening quote
  while (i_ < t_.size()) {
    i_ = skip_plain(t_, i_, /*stop_at_non_ascii=*/true);
    if (i_ >= t_.size()) break;
    const auto c = static_cast<unsigned char>(t_[i_]);
    if (c == '"') {
      json_node& n = push(json_type::string);
      n.offset = static_cast<std::uint32_t>(start);
      n.count = static_cast<std::uint32_t>(i_ - start);
      ++i_;
      return true;
    }
    if (c == '\\') return decode_escaped(start);
    if (c < 0x20)
      return fail("a control character (byte " + std::to_string(c) + ") in a string at byte " +
                  std::to_string(i_) + " must be escaped");
    if (c < 0x80) {
      ++i_;
      continue;
    }
    const std::size_t n = utf8_sequence_length(t_, i_);
    if (n == 0) return fail("invalid UTF-8 in a string at byte " + std::to_string(i_));
    i_ += n;
  }
  return fail_at(start - 1, "a string starting at byte " + std::to_string(start - 1) + " is not terminated");
}

// The rest of a string that holds escapes, decoded into the tape's buffer.
bool json_tape_parser::decode_escaped(std::size_t start) {
  std::string& out = tape_.buffer_;
  if (out.capacity() == 0) out.reserve(64);
  const std::size_t offset = out.size();
  out.append(t_.data() + start, i_ - start);
  while (i_ < t_.size()) {
    const auto c = static_cast<unsigned char>(t_[i_]);
    if (c == '"') {
      json_node& n = push(json_type::string);
      n.decoded = true;
      n.offset = static_cast<std::uint32_t>(offset);
      n.count = static_cast<std::uint32_t>(out.size() - offset);
      ++i_;
      return true;
    }
    if (c == '\\') {
      if (!escape(i_, out)) return false;
      continue;
    }
    if (c < 0x20)
      return fail("a control character (byte " + std::to_string(c) + ") in a string at byte " +
                  std::to_string(i_) + " must be escaped");
    const std::size_t n = c < 0x80 ? 1 : utf8_sequence_length(t_, i_);
    if (n == 0) return fail("invalid UTF-8 in a string at byte " + std::to_string(i_));
    out.append(t_.data() + i_, n);
    i_ += n;
  }
  return fail_at(start - 1, "a string starting at byte " + std::to_string(start - 1) + " is not terminated");
}

bool json_tape_parser::hex4(std::size_t i, unsigned& out) {
  if (i + 4 > t_.size()) return false;
  out = 0;
  for (std::size_t k = i; k < i + 4; ++k) {
    const char h = t_[k];
    unsigned d;
    if (h >= '0' && h <= '9')
      d = static_cast<unsigned>(h - '0');
    else if (h >= 'a' && h <= 'f')
      d = static_cast<unsigned>(h - 'a' + 10);
    else if (h >= 'A' && h <= 'F')
      d = static_cast<unsigned>(h - 'A' + 10);
    else
      return false;
    out = out * 16 + d;
  }
  return true;
}

// One escape at t_[i] == '\\', appended decoded; i moves past it.
bool json_tape_parser::escape(std::size_t& i, std::string& out) {
  const std::size_t at = i;
  if (i + 1 >= t_.size()) return fail_at(at, "an escape at byte " + std::to_string(at) + " is cut short");
  const char e = t_[i + 1];
  i += 2;
  switch (e) {
    case '"':
      out += '"';
      return true;
    case '\\':
      out += '\\';
      return true;
    case '/':
      out += '/';
      return true;
    case 'b':
      out += '\b';
      return true;
    case 'f':
      out += '\f';
      return true;
    case 'n':
      out += '\n';
      return true;
    case 'r':
      out += '\r';
      return true;
    case 't':
      out += '\t';
      return true;
    case 'u':
      break;
    default:
      return fail_at(at, "invalid escape at byte " + std::to_string(at));
  }
  unsigned cp;
  if (!hex4(i, cp)) return fail_at(at, "\\u at byte " + std::to_string(at) + " needs four hex digits");
  i += 4;
  if (cp >= 0xDC00 && cp <= 0xDFFF)
    return fail_at(at, "a low surrogate without a high one at byte " + std::to_string(at));
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    unsigned low;
    if (i + 1 >= t_.size() || t_[i] != '\\' || t_[i + 1] != 'u' || !hex4(i + 2, low) || low < 0xDC00 ||
        low > 0xDFFF)
      return fail_at(at, "a high surrogate without a low one at byte " + std::to_string(at));
    i += 6;
    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
  }
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return true;
}

bool json_tape_parser::number_node() {
  const std::size_t start = i_;
  const auto digit = [&] { return i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '9'; };
  const bool negative = at('-');
  if (negative) ++i_;
  if (!digit()) return fail(expected("a digit"));
  if (t_[i_] == '0') {
    ++i_;
    if (digit()) return fail_at(start, "a number at byte " + std::to_string(start) + " has a leading zero");
  } else {
    while (digit()) ++i_;
  }
  bool is_float = false;
  if (at('.')) {
    is_float = true;
    ++i_;
    if (!digit()) return fail(expected("a digit after the decimal point"));
    while (digit()) ++i_;
  }
  if (at('e') || at('E')) {
    is_float = true;
    ++i_;
    if (at('+') || at('-')) ++i_;
    if (!digit()) return fail(expected("a digit in the exponent"));
    while (digit()) ++i_;
  }
  const char* first = t_.data() + start;
  const char* last = t_.data() + i_;
  // As nlohmann reads numbers: integers as integers while they fit, else as
  // a double.
  if (!is_float) {
    if (negative) {
      std::int64_t v;
      if (std::from_chars(first, last, v).ec == std::errc()) {
        push(json_type::integer).integer = v;
        return true;
      }
    } else {
      std::uint64_t v;
      if (std::from_chars(first, last, v).ec == std::errc()) {
        push(json_type::unsigned_integer).unsigned_integer = v;
        return true;
      }
    }
  }
  double d = 0;
  const auto r = std::from_chars(first, last, d);
  if (r.ec == std::errc::result_out_of_range) {
    // from_chars leaves d untouched; strtod tells overflow (inf) from
    // underflow (a tiny or zero value, which JSON readers accept).
    const std::string copy(first, last);
    d = std::strtod(copy.c_str(), nullptr);
  } else if (r.ec != std::errc() || r.ptr != last) {
    return fail_at(start, "the number at byte " + std::to_string(start) + " cannot be read");
  }
  if (!std::isfinite(d))
    return fail_at(start, "the number at byte " + std::to_string(start) + " is too large for a double");
  push(json_type::floating).floating = d;
  return true;
}

std::variant<json_tape, json_tape_error> json_tape::parse(std::string_view text, std::size_t max_depth) {
  json_tape tape;
  tape.text_ = text;
  json_tape_parser parser(text, max_depth, tape);
  if (!parser.run()) return parser.error();
  return tape;
}

std::optional<json_tape> json_tape::from_tree(const nlohmann::json& tree) {
  json_tape tape;
  if (!tape.add_tree(tree)) return std::nullopt;
  return tape;
}

bool json_tape::add_tree(const nlohmann::json& tree) {
  const auto index = static_cast<std::uint32_t>(nodes_.size());
  nodes_.emplace_back();
  const auto add_string = [&](std::uint32_t at, std::string_view s) {
    nodes_[at].type = json_type::string;
    nodes_[at].decoded = true;
    nodes_[at].offset = static_cast<std::uint32_t>(buffer_.size());
    nodes_[at].count = static_cast<std::uint32_t>(s.size());
    buffer_.append(s);
  };
  switch (tree.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      break;
    case nlohmann::json::value_t::boolean:
      nodes_[index].type = json_type::boolean;
      nodes_[index].boolean = tree.get<bool>();
      break;
    case nlohmann::json::value_t::number_integer:
      nodes_[index].type = json_type::integer;
      nodes_[index].integer = tree.get<std::int64_t>();
      break;
    case nlohmann::json::value_t::number_unsigned:
      nodes_[index].type = json_type::unsigned_integer;
      nodes_[index].unsigned_integer = tree.get<std::uint64_t>();
      break;
    case nlohmann::json::value_t::number_float:
      nodes_[index].type = json_type::floating;
      nodes_[index].floating = tree.get<double>();
      break;
    case nlohmann::json::value_t::string:
      add_string(index, tree.get_ref<const std::string&>());
      break;
    case nlohmann::json::value_t::array:
      nodes_[index].type = json_type::array;
      for (const auto& item : tree)
        if (!add_tree(item)) return false;
      nodes_[index].count = static_cast<std::uint32_t>(tree.size());
      break;
    case nlohmann::json::value_t::object:
      nodes_[index].type = json_type::object;
      for (const auto& [name, value] : tree.items()) {
        const auto name_index = static_cast<std::uint32_t>(nodes_.size());
        nodes_.emplace_back();
        add_string(name_index, name);
        nodes_[name_index].end = name_index + 1;
        if (!add_tree(value)) return false;
      }
      nodes_[index].count = static_cast<std::uint32_t>(tree.size());
      break;
    case nlohmann::json::value_t::binary:
      return false;
  }
  nodes_[index].end = static_cast<std::uint32_t>(nodes_.size());
  return true;
}

std::uint32_t json_tape::find_member(std::uint32_t object, std::string_view name) const {
  for (std::uint32_t i = object + 1; i < nodes_[object].end; i = nodes_[i + 1].end)
    if (!nodes_[i].erased && string(i) == name) return i + 1;
  return npos;
}

double json_tape::number(std::uint32_t i) const {
  const json_node& n = nodes_[i];
  switch (n.type) {
    case json_type::integer:
      return static_cast<double>(n.integer);
    case json_type::unsigned_integer:
      return static_cast<double>(n.unsigned_integer);
    case json_type::floating:
      return n.floating;
    default:
      return 0;
  }
}

void append_json_quoted(std::string_view s, std::string& out) {
  static constexpr char hex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  // Runs that need no escape are appended at once: ids, keys and most values.
  std::size_t run = 0;
  for (std::size_t i = skip_plain(s, 0, false); i < s.size(); i = skip_plain(s, run, false)) {
    const auto c = static_cast<unsigned char>(s[i]);
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void append_json_double(double value, std::string& out) {
  // What nlohmann's serializer does for a double (dump_float), without
  // building a serializer (it looks up the locale each time): its Grisu2
  // to_chars, the shortest text that reads back the same double, in its
  // exact layout. The test suite compares both on random doubles.
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  std::array<char, 64> buffer;
  char* end = nlohmann::detail::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out.append(buffer.data(), static_cast<std::size_t>(end - buffer.data()));
}

namespace {

void append_integer(std::int64_t v, std::string& out) {
  char digits[24];
  const auto r = std::to_chars(digits, digits + sizeof digits, v);
  out.append(digits, r.ptr);
}

void append_unsigned(std::uint64_t v, std::string& out) {
  char digits[24];
  const auto r = std::to_chars(digits, digits + sizeof digits, v);
  out.append(digits, r.ptr);
}

}  // namespace

void append_canonical(const json_tape& tape, std::uint32_t node, std::string& out) {
  const json_node& n = tape[node];
  switch (n.type) {
    case json_type::null:
      out += "null";
      return;
    case json_type::boolean:
      out += n.boolean ? "true" : "false";
      return;
    case json_type::integer:
      append_integer(n.integer, out);
      return;
    case json_type::unsigned_integer:
      append_unsigned(n.unsigned_integer, out);
      return;
    case json_type::floating:
      append_json_double(n.floating, out);
      return;
    case json_type::string:
      if (!n.decoded)
        out += tape.quoted_source(node);  // already canonical: no escape needed
      else
        append_json_quoted(tape.string(node), out);
      return;
    case json_type::array: {
      out += '[';
      bool first = true;
      tape.for_each_item(node, [&](std::uint32_t item) {
        if (!first) out += ',';
        first = false;
        append_canonical(tape, item, out);
      });
      out += ']';
      return;
    }
    case json_type::object: {
      // Members by name, as nlohmann's std::map keeps them.
      std::uint32_t small[16];
      std::vector<std::uint32_t> large;
      std::uint32_t* names = small;
      if (n.count > 16) {
        large.resize(n.count);
        names = large.data();
      }
      std::uint32_t k = 0;
      tape.for_each_member(node, [&](std::uint32_t name, std::uint32_t) { names[k++] = name; });
      std::sort(names, names + k,
                [&](std::uint32_t a, std::uint32_t b) { return tape.string(a) < tape.string(b); });
      out += '{';
      for (std::uint32_t j = 0; j < k; ++j) {
        if (j) out += ',';
        append_json_quoted(tape.string(names[j]), out);
        out += ':';
        append_canonical(tape, names[j] + 1, out);
      }
      out += '}';
      return;
    }
  }
}

}  // namespace horao::crdt
