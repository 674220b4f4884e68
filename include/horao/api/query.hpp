#pragma once
// Query strings of untrusted targets, parsed strictly (API.md: unknown or
// malformed parameter -> 400 bad_query).
//
// Invariants: a parsed query holds at most max_query_params distinct names,
// each name and value percent-decoded (RFC 3986: '+' is a plus, not a space)
// and valid UTF-8; an empty pair ("a&&b"), a pair without '=', a bad %XX
// escape or a repeated name refuses the whole query. Page limits are
// 1..max_page_limit, default default_page_limit.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "horao/api/errors.hpp"

namespace horao::api {

inline constexpr std::size_t max_query_params = 32;
inline constexpr std::uint64_t default_page_limit = 100;
inline constexpr std::uint64_t max_page_limit = 1000;

struct query_param {
  std::string name;
  std::string value;
};

class query_params {
 public:
  // `query` is the part of the target after '?' (without it).
  static std::variant<query_params, api_error> parse(std::string_view query);

  const std::vector<query_param>& all() const { return params_; }
  const std::string* find(std::string_view name) const;
  bool empty() const { return params_.empty(); }

  // The `limit` parameter: default when absent, 400 bad_query when not an
  // integer in 1..max_page_limit.
  std::variant<std::uint64_t, api_error> limit() const;
  // An unsigned decimal parameter (`since`), `fallback` when absent.
  std::variant<std::uint64_t, api_error> unsigned_value(std::string_view name, std::uint64_t fallback) const;

 private:
  std::vector<query_param> params_;
};

std::optional<std::string> percent_decode(std::string_view text);
// Decimal digits only, no sign, no overflow.
std::optional<std::uint64_t> parse_decimal(std::string_view text);
// The 400 bad_query refusal naming the parameter.
api_error bad_query(std::string_view name, std::string_view why);

}  // namespace horao::api
