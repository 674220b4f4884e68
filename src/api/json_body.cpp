#include "horao/api/json_body.hpp"

#include <string>
#include <vector>

#include "horao/api/text.hpp"
#include "horao/crdt/bounded_json.hpp"

namespace horao::api {

using nlohmann::json;

std::variant<json, api_error> parse_json(std::string_view text, std::size_t max_depth) {
  crdt::bounded_json_builder builder({.max_depth = max_depth});
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &builder, json::input_format_t::json, true);
  } catch (const std::exception& e) {
    // Defensive: the SAX parser reports errors through parse_error(), but an
    // allocation failure on a hostile body must still not escape.
    return api_error{400, "bad_json", std::string("body is not valid JSON: ") + e.what(), ""};
  }
  if (!ok) {
    const std::string why = builder.error().empty() ? "body is not valid JSON" : builder.error();
    return api_error{400, "bad_json", "body is not valid JSON: " + why, ""};
  }
  return std::move(builder.result());
}

bool is_json_media_type(std::string_view content_type, bool merge_patch) {
  const auto semicolon = content_type.find(';');
  const std::string_view type = trim(content_type.substr(0, semicolon));
  if (!iequals(type, "application/json") && !(merge_patch && iequals(type, "application/merge-patch+json")))
    return false;
  std::string_view params =
      semicolon == std::string_view::npos ? std::string_view() : content_type.substr(semicolon + 1);
  while (!params.empty()) {
    const auto next = params.find(';');
    const std::string_view param = trim(params.substr(0, next));
    params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
    if (param.empty()) continue;
    const auto eq = param.find('=');
    if (eq == std::string_view::npos) return false;
    if (!iequals(trim(param.substr(0, eq)), "charset")) continue;
    std::string_view value = trim(param.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (!iequals(value, "utf-8") && !iequals(value, "utf8")) return false;
  }
  return true;
}

}  // namespace horao::api
