#include "horao/crdt/bounded_json.hpp"

#include "horao/crdt/symbol_table.hpp"
#include "horao/crdt/utf8.hpp"

namespace horao::crdt {

using nlohmann::json;

bool bounded_json_builder::string(string_t& v) {
  if (options_.check_utf8 && !valid_utf8(v)) return fail("a text string is not UTF-8");
  return add(std::move(v));
}

bool bounded_json_builder::binary(binary_t& v) {
  if (!options_.top_level_binary) return fail("binary values are not JSON");
  if (stack_.size() != 1) return fail("byte strings are only allowed for digests");
  return add(json::binary(std::move(v)));
}

bool bounded_json_builder::key(string_t& k) {
  if (options_.check_utf8 && !valid_utf8(k)) return fail("a map key is not UTF-8");
  auto [it, inserted] = stack_.back()->get_ref<json::object_t&>().emplace(std::move(k), nullptr);
  if (!inserted) return fail("duplicate member \"" + it->first + "\"");
  slot_ = &it->second;
  return true;
}

bool bounded_json_builder::parse_error(std::size_t, const std::string&,
                                       const nlohmann::detail::exception& ex) {
  // nlohmann's message is "[json.exception.parse_error.101] parse error at ...":
  // keep the part after the bracket, which names the position and the cause.
  std::string what = ex.what();
  if (const auto close = what.find("] "); close != std::string::npos) what.erase(0, close + 2);
  return fail(what);
}

json* bounded_json_builder::place(json&& v) {
  if (stack_.empty()) {
    root_ = std::move(v);
    return &root_;
  }
  json& top = *stack_.back();
  if (top.is_array()) {
    auto& arr = top.get_ref<json::array_t&>();
    arr.push_back(std::move(v));
    return &arr.back();
  }
  *slot_ = std::move(v);
  return slot_;
}

bool bounded_json_builder::open(json::value_t type) {
  if (stack_.size() >= options_.max_depth)
    return fail("nesting deeper than " + std::to_string(options_.max_depth) + " levels");
  stack_.push_back(place(json(type)));
  return true;
}

bool bounded_json_builder::fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  return false;
}

}  // namespace horao::crdt
