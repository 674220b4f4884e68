#include "horao/api/query.hpp"

#include <charconv>

#include "horao/api/text.hpp"

namespace horao::api {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Names echoed in messages are cut short: the message must stay small
// whatever the client sent.
std::string shown(std::string_view name) {
  constexpr std::size_t max_shown = 64;
  return name.size() > max_shown ? std::string(name.substr(0, max_shown)) + "..." : std::string(name);
}

}  // namespace

api_error bad_query(std::string_view name, std::string_view why) {
  return api_error{400, "bad_query", "query parameter '" + shown(name) + "': " + std::string(why), ""};
}

std::optional<std::string> percent_decode(std::string_view text) {
  // Most paths and queries hold no escape: one scan, one copy.
  std::size_t i = text.find('%');
  if (i == std::string_view::npos) return std::string(text);
  std::string out;
  out.reserve(text.size());
  out.append(text.data(), i);
  for (; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = hex_digit(text[i + 1]);
    const int lo = hex_digit(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi << 4 | lo);
    i += 2;
  }
  return out;
}

std::optional<std::uint64_t> parse_decimal(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::variant<query_params, api_error> query_params::parse(std::string_view query) {
  query_params q;
  if (query.empty()) return q;
  std::size_t pos = 0;
  while (pos <= query.size()) {
    const std::size_t end = std::min(query.find('&', pos), query.size());
    const std::string_view pair = query.substr(pos, end - pos);
    pos = end + 1;
    if (pair.empty()) return api_error{400, "bad_query", "empty query parameter (stray '&')", ""};
    const auto eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq));
    if (!name || name->empty() || !valid_utf8(*name))
      return api_error{400, "bad_query", "malformed query parameter name", ""};
    if (eq == std::string_view::npos) return bad_query(*name, "expected name=value");
    auto value = percent_decode(pair.substr(eq + 1));
    if (!value || !valid_utf8(*value))
      return bad_query(*name, "malformed percent-encoding or UTF-8 in the value");
    if (q.find(*name)) return bad_query(*name, "given more than once");
    if (q.params_.size() == max_query_params)
      return api_error{400, "bad_query",
                       "more than " + std::to_string(max_query_params) + " query parameters", ""};
    q.params_.push_back({std::move(*name), std::move(*value)});
  }
  return q;
}

const std::string* query_params::find(std::string_view name) const {
  for (const auto& p : params_)
    if (p.name == name) return &p.value;
  return nullptr;
}

std::variant<std::uint64_t, api_error> query_params::limit() const {
  const std::string* text = find("limit");
  if (!text) return default_page_limit;
  const auto n = parse_decimal(*text);
  if (!n || *n < 1 || *n > max_page_limit)
    return bad_query("limit", "expected an integer from 1 to " + std::to_string(max_page_limit));
  return *n;
}

std::variant<std::uint64_t, api_error> query_params::unsigned_value(std::string_view name,
                                                                    std::uint64_t fallback) const {
  const std::string* text = find(name);
  if (!text) return fallback;
  const auto n = parse_decimal(*text);
  if (!n) return bad_query(name, "expected an unsigned integer");
  return *n;
}

}  // namespace horao::api
