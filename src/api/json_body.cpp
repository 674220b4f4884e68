#include "horao/api/json_body.hpp"

#include <string>
#include <vector>

#include "horao/api/text.hpp"

namespace horao::api {

using nlohmann::json;

std::variant<crdt::json_tape, api_error> parse_json_tape(std::string_view text, std::size_t max_depth) {
  try {
    auto parsed = crdt::json_tape::parse(text, max_depth);
    if (auto* e = std::get_if<crdt::json_tape_error>(&parsed))
      return api_error{400, "bad_json", "body is not valid JSON: " + e->message, ""};
    return std::move(std::get<crdt::json_tape>(parsed));
  } catch (const std::exception& e) {
    // An allocation failure on a hostile body must not escape.
    return api_error{400, "bad_json", std::string("body is not valid JSON: ") + e.what(), ""};
  }
}

json to_json(const crdt::json_tape& tape, std::uint32_t node) {
  const crdt::json_node& n = tape[node];
  switch (n.type) {
    case crdt::json_type::null:
      return nullptr;
    case crdt::json_type::boolean:
      return n.boolean;
    case crdt::json_type::integer:
      return n.integer;
    case crdt::json_type::unsigned_integer:
      return n.unsigned_integer;
    case crdt::json_type::floating:
      return n.floating;
    case crdt::json_type::string:
      return std::string(tape.string(node));
    case crdt::json_type::array: {
      json out = json::array();
      out.get_ref<json::array_t&>().reserve(n.count);
      // Recursion is bounded by the tape's depth, which parsing bounded.
      tape.for_each_item(node, [&](std::uint32_t item) { out.push_back(to_json(tape, item)); });
      return out;
    }
    case crdt::json_type::object: {
      json out = json::object();
      tape.for_each_member(node, [&](std::uint32_t name, std::uint32_t value) {
        out.emplace(std::string(tape.string(name)), to_json(tape, value));
      });
      return out;
    }
  }
  return nullptr;
}

std::variant<json, api_error> parse_json(std::string_view text, std::size_t max_depth) {
  auto parsed = parse_json_tape(text, max_depth);
  if (auto* e = std::get_if<api_error>(&parsed)) return std::move(*e);
  try {
    return to_json(std::get<crdt::json_tape>(parsed));
  } catch (const std::exception& e) {
    return api_error{400, "bad_json", std::string("body is not valid JSON: ") + e.what(), ""};
  }
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
