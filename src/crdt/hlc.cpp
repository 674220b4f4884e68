#include "horao/crdt/hlc.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>

namespace horao::crdt {
namespace {

constexpr std::int64_t us_per_second = 1'000'000;
constexpr std::int64_t us_per_day = 86'400 * us_per_second;

// Reads exactly `width` digits at `pos`; advances pos.
bool read_digits(std::string_view s, std::size_t& pos, std::size_t width, int& out) {
  if (pos + width > s.size()) return false;
  int value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += width;
  out = value;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

std::string format_time_us(std::int64_t unix_us) {
  using namespace std::chrono;
  std::int64_t days = unix_us / us_per_day;
  std::int64_t rest = unix_us % us_per_day;
  if (rest < 0) {
    rest += us_per_day;
    --days;
  }
  const year_month_day ymd{sys_days{std::chrono::days{days}}};
  const int y = static_cast<int>(ymd.year());
  const std::int64_t secs = rest / us_per_second;
  const std::int64_t micros = rest % us_per_second;
  if (y < 0 || y > 9999) {
    // Outside the four-digit years no stamp uses: the general path.
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ", y,
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                  static_cast<int>(secs % 60), static_cast<int>(micros));
    return buf;
  }
  // Fixed-width digits by hand: snprintf was the costliest step of rendering
  // a record (two stamps per resource). Same bytes as the format above.
  std::string out(27, '0');
  char* p = out.data();
  const auto put = [&p](std::int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i) {
      p[i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
    p += width;
  };
  const auto sep = [&p](char c) { *p++ = c; };
  put(y, 4);
  sep('-');
  put(static_cast<unsigned>(ymd.month()), 2);
  sep('-');
  put(static_cast<unsigned>(ymd.day()), 2);
  sep('T');
  put(secs / 3600, 2);
  sep(':');
  put(secs / 60 % 60, 2);
  sep(':');
  put(secs % 60, 2);
  sep('.');
  put(micros, 6);
  sep('Z');
  return out;
}

std::optional<std::int64_t> parse_time_us(std::string_view s) {
  using namespace std::chrono;
  std::size_t pos = 0;
  int y, mo, d, h, mi, sec;
  if (!read_digits(s, pos, 4, y) || !expect(s, pos, '-') || !read_digits(s, pos, 2, mo) ||
      !expect(s, pos, '-') || !read_digits(s, pos, 2, d))
    return std::nullopt;
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')) return std::nullopt;
  ++pos;
  if (!read_digits(s, pos, 2, h) || !expect(s, pos, ':') || !read_digits(s, pos, 2, mi) ||
      !expect(s, pos, ':') || !read_digits(s, pos, 2, sec))
    return std::nullopt;
  std::int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 6) micros = micros * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0 || digits > 9) return std::nullopt;
    for (std::size_t i = digits; i < 6; ++i) micros *= 10;
  }
  std::int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int oh, om;
    if (!read_digits(s, pos, 2, oh) || !expect(s, pos, ':') || !read_digits(s, pos, 2, om))
      return std::nullopt;
    if (oh > 23 || om > 59) return std::nullopt;
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  const std::int64_t days = sys_days{ymd}.time_since_epoch().count();
  const std::int64_t secs = days * 86'400 + h * 3600 + mi * 60 + std::min(sec, 59) - offset_s;
  return secs * us_per_second + micros;
}

std::string to_string(const hlc& t) {
  std::string out = format_time_us(t.wall_us);
  // "/%04u@" without printf: at least four digits, zero-padded.
  char digits[16];
  const auto end = std::to_chars(digits, digits + sizeof digits, t.counter).ptr;
  const auto length = static_cast<std::size_t>(end - digits);
  out += '/';
  if (length < 4) out.append(4 - length, '0');
  out.append(digits, length);
  out += '@';
  out += node_name(t);
  return out;
}

std::optional<hlc> parse_hlc(std::string_view text) {
  const auto slash = text.find('/');
  const auto at = text.find('@', slash == std::string_view::npos ? 0 : slash);
  if (slash == std::string_view::npos || at == std::string_view::npos) return std::nullopt;
  auto wall = parse_time_us(text.substr(0, slash));
  // The same range the codec accepts: no stamp before the epoch or after 9999.
  if (!wall || *wall < 0 || *wall > max_wall_us) return std::nullopt;
  const std::string_view counter_text = text.substr(slash + 1, at - slash - 1);
  std::uint32_t counter = 0;
  auto [end, ec] = std::from_chars(counter_text.data(), counter_text.data() + counter_text.size(), counter);
  if (ec != std::errc{} || end != counter_text.data() + counter_text.size() || counter_text.empty())
    return std::nullopt;
  auto node = node_names().intern(text.substr(at + 1));
  if (!node) return std::nullopt;
  return hlc{*wall, counter, *node};
}

}  // namespace horao::crdt
