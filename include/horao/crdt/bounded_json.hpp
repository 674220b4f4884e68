#pragma once
// A JSON tree builder for nlohmann's SAX parsers (JSON text and CBOR) that
// refuses what an untrusted input may not do: nest deeper than a bound,
// repeat a member, carry byte strings where they are not expected, or (for
// CBOR, which does not validate text) hold strings that are not UTF-8.
// Shared by the API's body parser and the replication protocol.
//
// Invariants: the first refusal is kept in error() and stops the parse; the
// tree is built as nlohmann's own SAX DOM parser would build it; pointers
// into it stay valid while it grows (an array only grows while it is the
// innermost open container; object members are map nodes).

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace horao::crdt {

struct bounded_json_options {
  std::size_t max_depth = 64;
  bool check_utf8 = false;          // CBOR input: text strings and keys must be UTF-8
  bool top_level_binary = false;    // byte strings allowed as members of the top-level container
};

class bounded_json_builder final : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit bounded_json_builder(bounded_json_options options) : options_(options) {}

  bool null() override { return add(nullptr); }
  bool boolean(bool v) override { return add(v); }
  bool number_integer(number_integer_t v) override { return add(v); }
  bool number_unsigned(number_unsigned_t v) override { return add(v); }
  bool number_float(number_float_t v, const string_t&) override { return add(v); }
  bool string(string_t& v) override;
  bool binary(binary_t& v) override;
  bool start_object(std::size_t) override { return open(nlohmann::json::value_t::object); }
  bool key(string_t& k) override;
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(nlohmann::json::value_t::array); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override;

  nlohmann::json& result() { return root_; }
  const std::string& error() const { return error_; }

 private:
  template <class V>
  bool add(V&& v) {
    place(nlohmann::json(std::forward<V>(v)));
    return true;
  }
  nlohmann::json* place(nlohmann::json&& v);
  bool open(nlohmann::json::value_t type);
  bool close() {
    stack_.pop_back();
    return true;
  }
  bool fail(std::string why);

  bounded_json_options options_;
  nlohmann::json root_;
  std::vector<nlohmann::json*> stack_;
  nlohmann::json* slot_ = nullptr;
  std::string error_;
};

}  // namespace horao::crdt
