#include "horao/domain/validate.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "horao/crdt/hlc.hpp"
#include "horao/crdt/utf8.hpp"
#include "horao/domain/schema.hpp"

namespace horao::domain {
namespace {

using crdt::json_tape;
using crdt::json_type;
using crdt::utf8_sequence_length;
using crdt::valid_utf8;
using nlohmann::json;

constexpr std::string_view id_pattern = "[A-Za-z0-9][A-Za-z0-9._-]{0,127}";
// Longest piece of client text (an unknown member's name) quoted in a message.
constexpr std::size_t max_quoted_bytes = 64;

// Client text made safe to put in an error body: invalid bytes become U+FFFD
// (the error is serialised as JSON, which must be UTF-8), and when `max` is
// given, cut at a character boundary.
std::string printable(std::string_view s, std::size_t max = std::string_view::npos) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence_length(s, i);
    if (out.size() + std::max<std::size_t>(n, 3) > max) {
      out += "...";
      break;
    }
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

// RFC 6901: '~' is written "~0" and '/' "~1".
std::string pointer_token(std::string_view name) {
  std::string out;
  for (char c : printable(name)) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

// Where a value sits in the body. Built for every member on the way down,
// so it holds views only; the pointer and the path are rendered when a
// message needs them (a refusal), never on the success path.
struct location {
  const location* parent = nullptr;  // null: the body itself
  std::string_view name;             // a member's name, unless is_item
  std::size_t index = 0;             // an array item's index, if is_item
  bool is_item = false;

  location member(std::string_view member_name) const { return {this, member_name, 0, false}; }
  location item(std::size_t i) const { return {this, {}, i, true}; }

  // The JSON pointer, "/cpus/1/cores".
  std::string pointer() const {
    if (parent == nullptr) return {};
    return parent->pointer() + "/" + (is_item ? std::to_string(index) : pointer_token(name));
  }
  // How messages name it, "cpus[1].cores".
  std::string path() const {
    if (parent == nullptr) return {};
    std::string up = parent->path();
    if (is_item) return up + "[" + std::to_string(index) + "]";
    return up.empty() ? std::string(name) : up + "." + std::string(name);
  }
};

std::string join(const std::vector<std::string>& words, std::string_view last_separator) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += i + 1 == words.size() ? last_separator : ", ";
    out += words[i];
  }
  return out;
}

std::string article(std::string_view noun) {
  const bool vowel = !noun.empty() && std::string_view("aeiou").find(noun.front()) != std::string_view::npos;
  return std::string(vowel ? "an " : "a ") + std::string(noun);
}

// The accepted form of a value, as messages state it.
std::string accepted(const value_spec& v) {
  switch (v.kind) {
    case value_kind::string:
      return std::string(v.min_length > 0 ? "a non-empty string" : "a string") + " of at most " +
             std::to_string(max_string_bytes) + " bytes";
    case value_kind::integer: {
      constexpr auto lowest = std::numeric_limits<std::int64_t>::min();
      constexpr auto highest = std::numeric_limits<std::int64_t>::max();
      if (v.int_min != lowest && v.int_max != highest)
        return "an integer between " + std::to_string(v.int_min) + " and " + std::to_string(v.int_max);
      if (v.int_min != lowest) return "an integer >= " + std::to_string(v.int_min);
      if (v.int_max != highest) return "an integer <= " + std::to_string(v.int_max);
      return "a 64-bit integer";
    }
    case value_kind::number: {
      if (!std::isfinite(v.number_min)) return "a finite number";
      json bound = v.number_min;
      if (v.number_min == std::trunc(v.number_min)) bound = static_cast<std::int64_t>(v.number_min);
      return std::string("a number ") + (v.number_exclusive ? "> " : ">= ") + bound.dump();
    }
    case value_kind::boolean:
      return "true or false";
    case value_kind::enumeration:
      return v.choices.size() == 1 ? "\"" + v.choices[0] + "\"" : "one of " + join(v.choices, ", ");
    case value_kind::time:
      return "an RFC 3339 time such as 2026-12-01T08:00:00Z";
    case value_kind::id_ref:
      return "the id of " + article(v.ref_kinds.at(0)) + " (" + std::string(id_pattern) + ")";
    case value_kind::key_ref: {
      std::vector<std::string> forms;
      for (const auto& k : v.ref_kinds) forms.push_back(k + "/ID");
      return "a key " + join(forms, " or ");
    }
    case value_kind::array:
      return std::string(v.min_items > 0 ? "a non-empty array" : "an array") + " of at most " +
             std::to_string(max_array_items) + " items";
    case value_kind::object:
      return "an object";
    case value_kind::tagged: {
      std::vector<std::string> tags;
      for (const auto& variant : v.variants) tags.push_back(variant.tag_value);
      return "an object whose " + v.tag + " is " + join(tags, " or ");
    }
  }
  return "a valid value";
}

bool is_null(const json_tape& tape, std::uint32_t node) {
  return tape[node].type == json_type::null;
}
bool is_string(const json_tape& tape, std::uint32_t node) {
  return tape[node].type == json_type::string;
}
bool is_integer(const json_tape& tape, std::uint32_t node) {
  return tape[node].type == json_type::integer || tape[node].type == json_type::unsigned_integer;
}
bool is_number(const json_tape& tape, std::uint32_t node) {
  return is_integer(tape, node) || tape[node].type == json_type::floating;
}
// An integer node as int64 (is_integer() and, when unsigned, <= INT64_MAX).
std::int64_t integer_of(const json_tape& tape, std::uint32_t node) {
  const auto& n = tape[node];
  return n.type == json_type::integer ? n.integer : static_cast<std::int64_t>(n.unsigned_integer);
}

// Where each member of an object spec sits in a body object: the node of its
// value, npos when the body has no such member. One pass over the body's
// members; `unknown` is the name node of the member the spec does not have
// with the smallest name (the order of members in a JSON text carries no
// meaning, so it does not choose the error), npos when there is none.
struct member_slots {
  std::array<std::uint32_t, max_object_members> value;
  std::uint32_t unknown = json_tape::npos;
};

member_slots slots_of(const std::vector<field_spec>& specs, const json_tape& tape, std::uint32_t node) {
  member_slots s;
  s.value.fill(json_tape::npos);
  tape.for_each_member(node, [&](std::uint32_t name_node, std::uint32_t value_node) {
    const std::string_view name = tape.string(name_node);
    for (std::size_t i = 0; i < specs.size(); ++i) {
      if (specs[i].name.size() == name.size() && specs[i].name == name) {
        s.value[i] = value_node;
        return;
      }
    }
    if (s.unknown == json_tape::npos || name < tape.string(s.unknown)) s.unknown = name_node;
  });
  return s;
}

// First pass: checks a body against its schema, in the order the refusals
// are documented, and keeps the first refusal.
class checker {
 public:
  checker(const json_tape& tape, const reference_lookup& references) : tape_(tape), references_(references) {}

  std::optional<violation> failure;

  // How messages about unknown members name one such object: the body of a
  // kind ("a server"), or, nested, derived from the location ("an item of
  // cpus"), with a tagged variant's tag ("... of type data"). Rendered only
  // on refusal.
  struct noun_source {
    std::string_view kind;  // the body of a resource of this kind
    std::string_view tag;
    std::string_view tag_value;

    std::string render(const location& at) const {
      if (!kind.empty()) return article(kind);
      std::string noun = noun_of(at);
      if (!tag.empty()) noun.append(" of ").append(tag).append(" ").append(tag_value);
      return noun;
    }
  };

  bool object(const std::vector<field_spec>& members,
              const std::vector<std::pair<std::string, std::string>>& time_order, std::uint32_t node,
              const location& at, const noun_source& noun) {
    const member_slots slots = slots_of(members, tape_, node);
    if (slots.unknown != json_tape::npos) {
      const std::string_view name = tape_.string(slots.unknown);
      std::vector<std::string> names;
      for (const auto& f : members) names.push_back(f.name);
      return fail(at.member(name), "unknown field " + printable(at.member(name).path(), max_quoted_bytes) +
                                       "; " + noun.render(at) + " has " + join(names, ", "));
    }
    for (std::size_t i = 0; i < members.size(); ++i) {
      const field_spec& f = members[i];
      if (f.read_only) continue;  // computed by the daemon: accepted, dropped
      const std::uint32_t member = slots.value[i];
      // null is absence: what a merge patch or a client's optional field means by it.
      if (member == json_tape::npos || is_null(tape_, member)) {
        if (f.required)
          return fail(at.member(f.name), at.member(f.name).path() + " is required: " + accepted(f.value));
        continue;
      }
      if (!value(f.value, member, at.member(f.name))) return false;
    }
    for (const auto& [earlier, later] : time_order) {
      const std::uint32_t a = tape_.find_member(node, earlier);
      const std::uint32_t b = tape_.find_member(node, later);
      if (a == json_tape::npos || b == json_tape::npos || is_null(tape_, a) || is_null(tape_, b)) continue;
      const auto ta = crdt::parse_time_us(tape_.string(a));
      const auto tb = crdt::parse_time_us(tape_.string(b));
      if (ta && tb && *tb <= *ta)
        return fail(at.member(later),
                    at.member(later).path() + " must be after " + at.member(earlier).path());
    }
    return true;
  }

  bool value(const value_spec& v, std::uint32_t node, const location& at) {
    switch (v.kind) {
      case value_kind::string: {
        if (!is_string(tape_, node)) return wrong(v, at);
        const std::string_view s = tape_.string(node);
        if (s.size() < v.min_length || s.size() > max_string_bytes) return wrong(v, at);
        if (!valid_utf8(s)) return fail(at, at.path() + " must be valid UTF-8");
        return true;
      }
      case value_kind::integer: {
        // A float (2.5, 1e300, even 2.0) is refused: integers are counts.
        if (!is_integer(tape_, node)) return wrong(v, at);
        if (tape_[node].type == json_type::unsigned_integer &&
            tape_[node].unsigned_integer >
                static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
          return wrong(v, at);
        const std::int64_t n = integer_of(tape_, node);
        if (n < v.int_min || n > v.int_max) return wrong(v, at);
        return true;
      }
      case value_kind::number: {
        if (!is_number(tape_, node)) return wrong(v, at);
        const double d = tape_.number(node);
        if (!std::isfinite(d)) return wrong(v, at);
        if (v.number_exclusive ? !(d > v.number_min) : !(d >= v.number_min)) return wrong(v, at);
        return true;
      }
      case value_kind::boolean:
        if (tape_[node].type != json_type::boolean) return wrong(v, at);
        return true;
      case value_kind::enumeration:
        if (!is_string(tape_, node) ||
            std::find(v.choices.begin(), v.choices.end(), tape_.string(node)) == v.choices.end())
          return wrong(v, at);
        return true;
      case value_kind::time: {
        if (!is_string(tape_, node) || tape_.string(node).size() > max_string_bytes) return wrong(v, at);
        const auto us = crdt::parse_time_us(tape_.string(node));
        if (!us) return wrong(v, at);
        // An offset can carry 9999-12-31T23:00:00-05:00 past year 9999, whose
        // UTC text no RFC 3339 reader (ours included) accepts back.
        if (!crdt::parse_time_us(canonical_time(*us))) return wrong(v, at);
        return true;
      }
      case value_kind::id_ref: {
        if (!is_string(tape_, node) || !valid_id(tape_.string(node))) return wrong(v, at);
        note_reference(at, make_key(v.ref_kinds.at(0), tape_.string(node)));
        return true;
      }
      case value_kind::key_ref: {
        if (!is_string(tape_, node)) return wrong(v, at);
        const std::string_view text = tape_.string(node);
        const auto key = parse_key(text);
        if (!key || std::find(v.ref_kinds.begin(), v.ref_kinds.end(), key->kind->kind) == v.ref_kinds.end())
          return wrong(v, at);
        note_reference(at, text);
        return true;
      }
      case value_kind::array: {
        if (tape_[node].type != json_type::array) return wrong(v, at);
        const std::size_t size = tape_[node].count;
        if (size > max_array_items)
          return fail(at, at.path() + " must have at most " + std::to_string(max_array_items) + " items");
        if (size < v.min_items) return fail(at, at.path() + " must not be empty");
        std::size_t i = 0;
        bool ok = true;
        tape_.for_each_item(node, [&](std::uint32_t item) {
          if (ok) ok = value(*v.items, item, at.item(i++));
        });
        return ok;
      }
      case value_kind::object:
        if (tape_[node].type != json_type::object) return wrong(v, at);
        return object(v.members, v.time_order, node, at, noun_source{});
      case value_kind::tagged: {
        if (tape_[node].type != json_type::object) return wrong(v, at);
        std::vector<std::string> tags;
        for (const auto& variant : v.variants) tags.push_back(variant.tag_value);
        const location tag_at = at.member(v.tag);
        const std::uint32_t tag = tape_.find_member(node, v.tag);
        if (tag == json_tape::npos || is_null(tape_, tag))
          return fail(tag_at, tag_at.path() + " is required: one of " + join(tags, ", "));
        if (const variant_spec* variant = variant_of(v, tape_, tag))
          return object(variant->members, {}, node, at, noun_source{{}, v.tag, variant->tag_value});
        return fail(tag_at, tag_at.path() + " must be one of " + join(tags, ", "));
      }
    }
    return wrong(v, at);
  }

  // After the shape is known good: every reference must name a live resource.
  bool references() {
    if (!first_dead_) return true;
    const auto& d = *first_dead_;
    const auto slash = d.key.find('/');
    return fail(d.pointer, d.path + " names " + d.key + ", which is not a live " + d.key.substr(0, slash));
  }

  // The variant a tagged object's tag member picks, null when none.
  static const variant_spec* variant_of(const value_spec& v, const json_tape& tape, std::uint32_t tag) {
    if (!is_string(tape, tag)) return nullptr;
    for (const auto& variant : v.variants)
      if (tape.string(tag) == variant.tag_value) return &variant;
    return nullptr;
  }

 private:
  struct dead_reference {
    std::string pointer;
    std::string path;
    std::string key;
  };

  // Liveness is looked up as references are met (the lookup is pure), but a
  // dead one is reported only once the whole shape is good: the first one
  // met is kept, with its location rendered while the location exists.
  void note_reference(const location& at, std::string_view key) {
    if (!first_dead_ && !references_.alive(key))
      first_dead_ = dead_reference{at.pointer(), at.path(), std::string(key)};
  }

  // "an item of cpus" for cpus[0], "constraints" for an object member.
  static std::string noun_of(const location& at) {
    const std::string path = at.path();
    if (!path.empty() && path.back() == ']') {
      const auto bracket = path.rfind('[');
      const auto dot = path.rfind('.', bracket);
      return "an item of " + path.substr(dot == std::string::npos ? 0 : dot + 1,
                                         bracket - (dot == std::string::npos ? 0 : dot + 1));
    }
    return path;
  }

  bool wrong(const value_spec& v, const location& at) {
    return fail(at, at.path() + " must be " + accepted(v));
  }

  bool fail(const location& at, std::string message) { return fail(at.pointer(), std::move(message)); }
  bool fail(std::string pointer, std::string message) {
    failure = violation{422, "validation_failed", std::move(message), std::move(pointer)};
    return false;
  }

  const json_tape& tape_;
  const reference_lookup& references_;
  std::optional<dead_reference> first_dead_;
};

// Second pass, over a body the checker accepted: the canonical text of the
// normalised value. Objects list their members by name (nlohmann's order);
// defaults are filled in, read-only and null members left out, integers
// written as int64 and times as canonical UTC text.
class writer {
 public:
  explicit writer(const json_tape& tape) : tape_(tape) {}

  // Calls f(spec, node) for each member the normalised object at `node`
  // holds, by name; node is npos for a member that takes its default.
  template <class F>
  void for_each_member(const std::vector<field_spec>& specs, const std::vector<std::uint8_t>& by_name,
                       std::uint32_t node, F&& f) const {
    const member_slots slots = slots_of(specs, tape_, node);
    for (const std::uint8_t i : by_name) {
      const field_spec& spec = specs[i];
      if (spec.read_only) continue;
      const std::uint32_t member = slots.value[i];
      if (member == json_tape::npos || is_null(tape_, member)) {
        if (spec.default_value) f(spec, json_tape::npos);
        continue;
      }
      f(spec, member);
    }
  }

  void member_value(const field_spec& spec, std::uint32_t node, std::string& out) const {
    if (node == json_tape::npos)
      out += spec.default_text;
    else
      value(spec.value, node, out);
  }

  void value(const value_spec& v, std::uint32_t node, std::string& out) const {
    switch (v.kind) {
      case value_kind::integer: {
        char digits[24];
        const auto r = std::to_chars(digits, digits + sizeof digits, integer_of(tape_, node));
        out.append(digits, r.ptr);
        return;
      }
      case value_kind::time:
        crdt::append_json_quoted(canonical_time(*crdt::parse_time_us(tape_.string(node))), out);
        return;
      case value_kind::array: {
        out += '[';
        bool first = true;
        tape_.for_each_item(node, [&](std::uint32_t item) {
          if (!first) out += ',';
          first = false;
          value(*v.items, item, out);
        });
        out += ']';
        return;
      }
      case value_kind::object:
        object(v.members, v.members_by_name, node, out);
        return;
      case value_kind::tagged: {
        const variant_spec& variant = *checker::variant_of(v, tape_, tape_.find_member(node, v.tag));
        object(variant.members, variant.members_by_name, node, out);
        return;
      }
      default:  // strings, numbers, booleans, enumerations and references as they are
        crdt::append_canonical(tape_, node, out);
        return;
    }
  }

 private:
  void object(const std::vector<field_spec>& specs, const std::vector<std::uint8_t>& by_name,
              std::uint32_t node, std::string& out) const {
    out += '{';
    bool first = true;
    for_each_member(specs, by_name, node, [&](const field_spec& spec, std::uint32_t member) {
      if (!first) out += ',';
      first = false;
      out += crdt::field_names().json_member(spec.name_id);
      member_value(spec, member, out);
    });
    out += '}';
  }

  const json_tape& tape_;
};

violation refuse(int status, std::string code, std::string message, std::string field = {}) {
  return violation{status, std::move(code), std::move(message), std::move(field)};
}

}  // namespace

std::vector<crdt::field_write> normalised_body::writes() const {
  std::vector<crdt::field_write> out;
  out.reserve(fields.size());
  for (const auto& f : fields) out.push_back({std::string(f.name), std::string(value(f)), f.name_id});
  return out;
}

json normalised_body::to_json() const {
  json out = json::object();
  for (const auto& f : fields) out[std::string(f.name)] = json::parse(value(f));
  return out;
}

body_result validate(const kind_info& kind, std::string_view id, const json_tape& tape, std::uint32_t body,
                     const reference_lookup& references) {
  using result = body_result;
  try {
    if (!valid_id(id))
      return result{std::in_place_index<1>,
                    refuse(400, "invalid_id", "the id must match " + std::string(id_pattern))};
    if (tape[body].type != json_type::object)
      return result{std::in_place_index<1>, refuse(400, "bad_json", "the body must be a JSON object")};
    const kind_schema& schema = schema_of(kind);
    checker check(tape, references);
    if (!check.object(schema.body.members, schema.body.time_order, body, location{},
                      checker::noun_source{kind.kind}) ||
        !check.references())
      return result{std::in_place_index<1>, std::move(*check.failure)};

    normalised_body out;
    out.text.reserve(tape.size() * 8);
    out.fields.reserve(schema.body.members.size());
    const writer write(tape);
    write.for_each_member(
        schema.body.members, schema.body.members_by_name, body,
        [&](const field_spec& spec, std::uint32_t member) {
          const auto offset = static_cast<std::uint32_t>(out.text.size());
          write.member_value(spec, member, out.text);
          out.fields.push_back(
              {spec.name, offset, static_cast<std::uint32_t>(out.text.size() - offset), spec.name_id});
        });
    return result{std::in_place_index<0>, std::move(out)};
  } catch (const std::exception&) {
    // Nothing above throws on any body; this is the last line against an
    // exception escaping into the router (allocation failure aside).
    return result{std::in_place_index<1>,
                  refuse(422, "validation_failed", "the body could not be validated")};
  }
}

validation_result validate(const kind_info& kind, std::string_view id, const json& body,
                           const reference_lookup& references) {
  using result = validation_result;
  try {
    // One set of rules for both forms: the tree is copied into a tape as it
    // is (invalid UTF-8 and non-finite numbers included, refused where they are).
    const auto tape = json_tape::from_tree(body);
    if (!tape)
      return result{std::in_place_index<1>,
                    refuse(422, "validation_failed", "the body could not be validated")};
    auto checked = validate(kind, id, *tape, json_tape::root, references);
    if (auto* v = std::get_if<violation>(&checked)) return result{std::in_place_index<1>, std::move(*v)};
    return result{std::in_place_index<0>, std::get<normalised_body>(checked).to_json()};
  } catch (const std::exception&) {
    return result{std::in_place_index<1>,
                  refuse(422, "validation_failed", "the body could not be validated")};
  }
}

}  // namespace horao::domain
