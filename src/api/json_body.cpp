#include "horao/api/json_body.hpp"

#include <string>
#include <vector>

#include "horao/api/text.hpp"

namespace horao::api {
namespace {

using nlohmann::json;

// Builds the DOM like nlohmann's own SAX DOM parser, plus the depth bound and
// the duplicate-member check.
class bounded_builder final : public nlohmann::json_sax<json> {
 public:
  explicit bounded_builder(std::size_t max_depth) : max_depth_(max_depth) {}

  bool null() override { return add(nullptr); }
  bool boolean(bool v) override { return add(v); }
  bool number_integer(number_integer_t v) override { return add(v); }
  bool number_unsigned(number_unsigned_t v) override { return add(v); }
  bool number_float(number_float_t v, const string_t&) override { return add(v); }
  bool string(string_t& v) override { return add(std::move(v)); }
  bool binary(binary_t&) override { return fail("binary values are not JSON"); }

  bool start_object(std::size_t) override { return open(json::value_t::object); }
  bool key(string_t& k) override {
    auto [it, inserted] = stack_.back()->get_ref<json::object_t&>().emplace(std::move(k), nullptr);
    if (!inserted) return fail("duplicate member \"" + it->first + "\"");
    slot_ = &it->second;
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(json::value_t::array); }
  bool end_array() override { return close(); }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
    // nlohmann's message is "[json.exception.parse_error.101] parse error at ...":
    // keep the part after the bracket, which names the position and the cause.
    std::string what = ex.what();
    if (const auto close = what.find("] "); close != std::string::npos) what.erase(0, close + 2);
    return fail(what);
  }

  json& result() { return root_; }
  const std::string& error() const { return error_; }

 private:
  template <class V>
  bool add(V&& v) {
    place(json(std::forward<V>(v)));
    return true;
  }
  json* place(json&& v) {
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
  bool open(json::value_t type) {
    if (stack_.size() >= max_depth_)
      return fail("nesting deeper than " + std::to_string(max_depth_) + " levels");
    // Pointers stay valid: an array only grows while it is the innermost
    // open container, and object members are map nodes.
    stack_.push_back(place(json(type)));
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }
  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }

  std::size_t max_depth_;
  json root_;
  std::vector<json*> stack_;
  json* slot_ = nullptr;
  std::string error_;
};

}  // namespace

std::variant<json, api_error> parse_json(std::string_view text, std::size_t max_depth) {
  bounded_builder builder(max_depth);
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
