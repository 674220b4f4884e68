#include "horao/domain/amounts.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace horao::domain {
namespace {

constexpr std::array<std::string_view, dimension_count> dimension_names{"cpu", "ram_gb", "accelerators",
                                                                        "block_tb", "object_tb"};

}  // namespace

std::string_view name_of(dimension d) {
  return dimension_names[static_cast<std::size_t>(d)];
}

std::optional<dimension> parse_dimension(std::string_view name) {
  for (dimension d : all_dimensions)
    if (name_of(d) == name) return d;
  return std::nullopt;
}

bool is_storage(dimension d) {
  return d == dimension::block_tb || d == dimension::object_tb;
}

std::string_view name_of(pool p) {
  return p == pool::total ? "total" : "hsn";
}

amounts& amounts::operator+=(const amounts& o) {
  for (std::size_t i = 0; i < dimension_count; ++i) q[i] += o.q[i];
  return *this;
}

amounts& amounts::operator-=(const amounts& o) {
  for (std::size_t i = 0; i < dimension_count; ++i) q[i] -= o.q[i];
  return *this;
}

amounts max_of(const amounts& a, const amounts& b) {
  amounts m;
  for (std::size_t i = 0; i < dimension_count; ++i) m.q[i] = std::max(a.q[i], b.q[i]);
  return m;
}

pools& pools::operator+=(const pools& o) {
  total += o.total;
  hsn += o.hsn;
  return *this;
}

pools& pools::operator-=(const pools& o) {
  total -= o.total;
  hsn -= o.hsn;
  return *this;
}

pools max_of(const pools& a, const pools& b) {
  return {max_of(a.total, b.total), max_of(a.hsn, b.hsn)};
}

quantity clamp_to(quantity v, quantity cap) {
  return std::clamp<quantity>(v, 0, cap);
}

quantity json_count(const nlohmann::json& v) {
  if (v.is_number_unsigned()) return static_cast<quantity>(v.get<std::uint64_t>());
  if (v.is_number_integer()) return std::max<quantity>(0, v.get<std::int64_t>());
  return 0;
}

quantity json_tb_units(const nlohmann::json& v, quantity cap) {
  if (!v.is_number()) return 0;
  const double tb = v.get<double>();
  if (!std::isfinite(tb) || tb <= 0) return 0;
  const double units = std::round(tb * 1e6);
  // Compare before converting: a double beyond the 128-bit range must not be cast.
  if (!(units < static_cast<double>(cap))) return cap;
  return static_cast<quantity>(units);
}

nlohmann::json to_json(dimension d, quantity v) {
  if (is_storage(d)) return static_cast<double>(v) / 1e6;
  constexpr quantity hi = std::numeric_limits<std::int64_t>::max();
  constexpr quantity lo = std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(std::clamp(v, lo, hi));
}

nlohmann::json to_json(const amounts& a) {
  nlohmann::json out = nlohmann::json::object();
  for (dimension d : all_dimensions) out[std::string(name_of(d))] = to_json(d, a[d]);
  return out;
}

std::string to_string(quantity v) {
  if (v == 0) return "0";
  const bool negative = v < 0;
  // Digits of the magnitude, built from the negative side so that the
  // smallest value does not overflow when negated.
  std::string digits;
  quantity n = negative ? v : -v;
  while (n != 0) {
    digits.push_back(static_cast<char>('0' - static_cast<int>(n % 10)));
    n /= 10;
  }
  if (negative) digits.push_back('-');
  std::reverse(digits.begin(), digits.end());
  return digits;
}

std::string format_quantity(dimension d, quantity v) {
  if (!is_storage(d)) return to_string(v);
  const bool negative = v < 0;
  const quantity magnitude = negative ? -v : v;
  std::string text = (negative ? "-" : "") + to_string(magnitude / units_per_tb);
  quantity fraction = magnitude % units_per_tb;
  if (fraction != 0) {
    std::string f = to_string(fraction);
    f.insert(0, 6 - f.size(), '0');
    while (f.back() == '0') f.pop_back();
    text += '.' + f;
  }
  return text;
}

}  // namespace horao::domain
