#include "horao/crdt/canonical_json.hpp"

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

namespace horao::crdt {
namespace {

constexpr std::size_t depth_limit = 64;  // frames kept on the stack below

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

// One UTF-8 sequence starting at t[i] (a byte >= 0x80); advances i past it.
bool utf8_sequence(std::string_view t, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(t[i]);
  std::size_t extra;
  std::uint32_t cp;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    extra = 1;
    cp = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    extra = 2;
    cp = b0 & 0x0f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    extra = 3;
    cp = b0 & 0x07;
  } else {
    return false;  // continuation byte, overlong lead (c0, c1) or beyond U+10FFFF
  }
  if (i + extra >= t.size()) return false;
  for (std::size_t k = 1; k <= extra; ++k) {
    const auto b = static_cast<unsigned char>(t[i + k]);
    if ((b & 0xc0) != 0x80) return false;
    cp = (cp << 6) | (b & 0x3f);
  }
  if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff))) return false;
  if (cp >= 0xd800 && cp <= 0xdfff) return false;  // surrogates are not characters
  i += extra + 1;
  return true;
}

// A string starting at t[i] == '"'; advances i past the closing quote.
// `escaped` tells whether it held an escape (its bytes then differ from its
// content).
bool string_token(std::string_view t, std::size_t& i, bool& escaped) {
  escaped = false;
  ++i;
  while (i < t.size()) {
    const char c = t[i];
    const auto u = static_cast<unsigned char>(c);
    if (c == '"') {
      ++i;
      return true;
    }
    if (u < 0x20) return false;  // dump() escapes every control character
    if (u >= 0x80) {
      if (!utf8_sequence(t, i)) return false;
      continue;
    }
    if (c != '\\') {
      ++i;
      continue;
    }
    escaped = true;
    if (i + 1 >= t.size()) return false;
    const char e = t[i + 1];
    if (e == '"' || e == '\\' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
      i += 2;
      continue;
    }
    // \u00xx only for the control characters without a short form.
    if (e != 'u' || i + 5 >= t.size() || t[i + 2] != '0' || t[i + 3] != '0' || !is_lower_hex(t[i + 4]) ||
        !is_lower_hex(t[i + 5]))
      return false;
    const int hi = t[i + 4] - '0';
    if (hi > 1) return false;  // above 0x1f: dump() writes the character itself
    const int lo = is_digit(t[i + 5]) ? t[i + 5] - '0' : t[i + 5] - 'a' + 10;
    const int code = hi * 16 + lo;
    if (code == 0x08 || code == 0x09 || code == 0x0a || code == 0x0c || code == 0x0d) return false;
    i += 6;
  }
  return false;  // unterminated
}

// A number starting at t[i]; advances i past it.
bool number_token(std::string_view t, std::size_t& i) {
  const std::size_t start = i;
  const bool negative = t[i] == '-';
  if (negative) ++i;
  if (i >= t.size() || !is_digit(t[i])) return false;
  const std::size_t int_start = i;
  if (t[i] == '0') {
    ++i;
  } else {
    while (i < t.size() && is_digit(t[i])) ++i;
  }
  const std::size_t int_end = i;
  bool is_float = false;
  if (i < t.size() && t[i] == '.') {
    is_float = true;
    ++i;
    if (i >= t.size() || !is_digit(t[i])) return false;
    while (i < t.size() && is_digit(t[i])) ++i;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    is_float = true;
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (i >= t.size() || !is_digit(t[i])) return false;
    while (i < t.size() && is_digit(t[i])) ++i;
  }
  const std::string_view token = t.substr(start, i - start);
  if (!is_float) {
    const std::string_view digits = t.substr(int_start, int_end - int_start);
    if (negative && digits == "0") return false;  // dump() prints 0
    // Within int64 (negative) or uint64 (positive); beyond, nlohmann reads a
    // float and prints it differently.
    const std::string_view limit = negative ? "9223372036854775808" : "18446744073709551615";
    return digits.size() < limit.size() || (digits.size() == limit.size() && digits <= limit);
  }
  // A float is canonical when dump() prints exactly this token.
  char buffer[64];
  if (token.size() >= sizeof buffer) return false;
  std::memcpy(buffer, token.data(), token.size());
  buffer[token.size()] = '\0';
  const double value = std::strtod(buffer, nullptr);
  if (!std::isfinite(value)) return false;
  return nlohmann::json(value).dump() == token;
}

struct frame {
  bool object = false;
  std::string_view last_key;  // raw bytes of the previous key (no escapes in it)
  bool has_key = false;
};

}  // namespace

bool is_canonical_json(std::string_view t, std::size_t max_depth) {
  max_depth = std::min(max_depth, depth_limit);
  std::array<frame, depth_limit + 1> stack{};
  std::size_t depth = 0;
  std::size_t i = 0;
  bool want_value = true;  // else: a value just ended
  while (true) {
    if (want_value) {
      if (i >= t.size()) return false;
      const char c = t[i];
      if (c == '{' || c == '[') {
        if (depth == max_depth) return false;
        stack[++depth] = frame{c == '{', {}, false};
        ++i;
        const char close = c == '{' ? '}' : ']';
        if (i < t.size() && t[i] == close) {
          ++i;
          --depth;
          want_value = false;
          continue;
        }
        if (c == '[') continue;  // the first element
        // The first key of an object: handled as after a comma.
      } else if (c == '"') {
        bool escaped;
        if (!string_token(t, i, escaped)) return false;
        want_value = false;
        continue;
      } else if (c == 't' || c == 'f' || c == 'n') {
        const std::string_view word = c == 't' ? "true" : c == 'f' ? "false" : "null";
        if (t.substr(i, word.size()) != word) return false;
        i += word.size();
        want_value = false;
        continue;
      } else if (c == '-' || is_digit(c)) {
        if (!number_token(t, i)) return false;
        want_value = false;
        continue;
      } else {
        return false;
      }
    } else {
      if (depth == 0) return i == t.size();
      if (i >= t.size()) return false;
      frame& f = stack[depth];
      const char c = t[i];
      if (c == (f.object ? '}' : ']')) {
        ++i;
        --depth;
        continue;  // still after a value: the container ended
      }
      if (c != ',') return false;
      ++i;
      if (!f.object) {
        want_value = true;
        continue;
      }
    }
    // A key in the object on top of the stack, then ':', then its value.
    frame& f = stack[depth];
    if (i >= t.size() || t[i] != '"') return false;
    const std::size_t key_start = i + 1;
    bool escaped;
    if (!string_token(t, i, escaped) || escaped) return false;  // escaped keys: the slow path
    const std::string_view key = t.substr(key_start, i - 1 - key_start);
    // std::map order: bytes compared as unsigned char, strictly increasing.
    if (f.has_key && !(f.last_key < key)) return false;
    f.last_key = key;
    f.has_key = true;
    if (i >= t.size() || t[i] != ':') return false;
    ++i;
    want_value = true;
  }
}

}  // namespace horao::crdt
