#pragma once
// A JSON document read from untrusted text into one flat array of nodes (a
// "tape"), for the hot path of writes: the API reads a request body once,
// validation walks the tape, and the canonical text of each field is written
// straight from it, with no tree of heap nodes in between.
//
// Invariants:
//  * parse() accepts exactly what the API's JSON bodies accept (RFC 8259,
//    json_body.hpp): UTF-8 checked byte by byte, surrogate pairs in \u
//    escapes paired, no control character unescaped, nesting at most
//    `max_depth`, no object with a duplicate member, no number that overflows
//    a double. Anything else is an error with its byte offset; no exception,
//    no recursion, at most two allocations that grow with the text.
//  * numbers are typed as nlohmann reads them: an integer literal is
//    `integer` within int64, `unsigned_integer` above it within uint64, and
//    `floating` beyond (as is any literal with a fraction or an exponent).
//  * node i of a value is followed by its contents; `end` is one past the
//    value's last node, so a value is skipped in O(1). An object's contents
//    are, per member, a string node (the name) and the value's nodes.
//  * strings are views into the parsed text when they held no escape, into
//    the tape's own buffer otherwise: the text must outlive the tape.
//  * append_canonical() writes exactly the bytes nlohmann::json::dump()
//    writes for the same value (compact, object members by name in byte
//    order, the same escapes and number forms): the form the store keeps.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace horao::crdt {

enum class json_type : std::uint8_t {
  null,
  boolean,
  integer,
  unsigned_integer,
  floating,
  string,
  array,
  object
};

struct json_node {
  json_type type = json_type::null;
  bool boolean = false;     // boolean: its value
  bool decoded = false;     // string: held escapes, its text is in the tape's buffer
  bool erased = false;      // a member's name: the member was erased (json_tape::erase_member)
  std::uint32_t count = 0;  // array: items; object: members; string: bytes
  std::uint32_t end = 0;    // one past the value's last node
  union {
    std::int64_t integer = 0;
    std::uint64_t unsigned_integer;
    double floating;
    std::uint32_t offset;  // string: where its text starts (in the text, or in the buffer if decoded)
  };
};

struct json_tape_error {
  std::string message;  // "expected ':' after an object member's name"
  std::size_t offset;   // byte offset in the text
};

class json_tape {
 public:
  static constexpr std::uint32_t npos = UINT32_MAX;

  // The tape of `text` (one JSON value, optionally surrounded by whitespace).
  static std::variant<json_tape, json_tape_error> parse(std::string_view text, std::size_t max_depth);
  // Refused at compile time: the tape would view a string that dies at the end of the call.
  template <class S>
  requires std::same_as<S, std::string>
  static std::variant<json_tape, json_tape_error> parse(S&& temporary, std::size_t max_depth) = delete;
  // The tape of a tree built in-process, as it is: strings are copied without
  // a UTF-8 check and non-finite doubles kept, so that validation can refuse
  // them where they are (text could not carry them). Byte strings (not JSON)
  // give nullopt. Recursion follows the tree's depth.
  static std::optional<json_tape> from_tree(const nlohmann::json& tree);

  const json_node& operator[](std::uint32_t i) const { return nodes_[i]; }
  std::uint32_t size() const { return static_cast<std::uint32_t>(nodes_.size()); }
  static constexpr std::uint32_t root = 0;

  std::string_view string(std::uint32_t i) const {
    const json_node& n = nodes_[i];
    return n.decoded ? std::string_view(buffer_).substr(n.offset, n.count) : text_.substr(n.offset, n.count);
  }
  // A string that held no escape, as it stands in the text, quotes included:
  // exactly its canonical JSON (an unescaped string holds no quote, backslash
  // or control character). Empty for a decoded string.
  std::string_view quoted_source(std::uint32_t i) const {
    const json_node& n = nodes_[i];
    return n.decoded ? std::string_view() : text_.substr(n.offset - 1, n.count + 2);
  }
  // The node of `object`'s member `name` (not erased), npos when it has none.
  std::uint32_t find_member(std::uint32_t object, std::string_view name) const;
  // Removes the member whose name is node `name_node` from what readers see.
  void erase_member(std::uint32_t name_node) { nodes_[name_node].erased = true; }

  // Calls f(name_node, value_node) for each member of `object` not erased, in
  // text order.
  template <class F>
  void for_each_member(std::uint32_t object, F&& f) const {
    for (std::uint32_t i = object + 1; i < nodes_[object].end; i = nodes_[i + 1].end)
      if (!nodes_[i].erased) f(i, i + 1);
  }
  // Calls f(item_node) for each item of `array`, in order.
  template <class F>
  void for_each_item(std::uint32_t array, F&& f) const {
    for (std::uint32_t i = array + 1; i < nodes_[array].end; i = nodes_[i].end) f(i);
  }

  // A number's value as a double (integers converted).
  double number(std::uint32_t i) const;

 private:
  std::string_view text_;
  std::vector<json_node> nodes_;
  std::string buffer_;  // decoded strings
  bool add_tree(const nlohmann::json& tree);
  friend class json_tape_parser;
};

// Appends the compact canonical text of the value at `node` (see above).
void append_canonical(const json_tape& tape, std::uint32_t node, std::string& out);
// A string as nlohmann::json::dump() writes it, quotes included.
void append_json_quoted(std::string_view text, std::string& out);
// A double as nlohmann::json::dump() writes it ("3.1", "1e+300", "2.0").
void append_json_double(double value, std::string& out);

}  // namespace horao::crdt
