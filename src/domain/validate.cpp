#include "horao/domain/validate.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "horao/crdt/hlc.hpp"
#include "horao/domain/schema.hpp"

namespace horao::domain {
namespace {

using nlohmann::json;

constexpr std::string_view id_pattern = "[A-Za-z0-9][A-Za-z0-9._-]{0,127}";
// Longest piece of client text (an unknown member's name) quoted in a message.
constexpr std::size_t max_quoted_bytes = 64;

// Length of the valid UTF-8 sequence starting at s[i], 0 when invalid.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned min = 0;
  if ((c & 0xE0) == 0xC0)
    n = 2, min = 0x80;
  else if ((c & 0xF0) == 0xE0)
    n = 3, min = 0x800;
  else if ((c & 0xF8) == 0xF0)
    n = 4, min = 0x10000;
  else
    return 0;
  if (i + n > s.size()) return 0;
  unsigned cp = c & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// Client text made safe to put in an error body: invalid bytes become U+FFFD
// (the error is serialised as JSON, which must be UTF-8), and when `max` is
// given, cut at a character boundary.
std::string printable(std::string_view s, std::size_t max = std::string_view::npos) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
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

class validator {
 public:
  explicit validator(const reference_lookup& references) : references_(references) {}

  std::optional<violation> failure;

  // How messages about unknown members name one such object: `fixed` ("a
  // server") or, nested, derived from the location ("an item of cpus"), with
  // a tagged variant's tag ("... of type data"). Rendered only on refusal.
  struct noun_source {
    std::string_view fixed;
    std::string_view tag;
    std::string_view tag_value;

    std::string render(const location& at) const {
      if (!fixed.empty()) return std::string(fixed);
      std::string noun = noun_of(at);
      if (!tag.empty()) noun.append(" of ").append(tag).append(" ").append(tag_value);
      return noun;
    }
  };

  bool object(const std::vector<field_spec>& members,
              const std::vector<std::pair<std::string, std::string>>& time_order, json& io,
              const location& at, const noun_source& noun) {
    for (const auto& [name, value] : io.items()) {
      if (std::none_of(members.begin(), members.end(),
                       [&name = name](const field_spec& f) { return f.name == name; })) {
        std::vector<std::string> names;
        for (const auto& f : members) names.push_back(f.name);
        return fail(at.member(name), "unknown field " + printable(at.member(name).path(), max_quoted_bytes) +
                                         "; " + noun.render(at) + " has " + join(names, ", "));
      }
    }
    // Every member is now one of `members`: normalise them where they are.
    for (const auto& f : members) {
      const auto it = io.find(f.name);
      if (f.read_only) {  // computed by the daemon: accepted, dropped
        if (it != io.end()) io.erase(it);
        continue;
      }
      // null is absence: what a merge patch or a client's optional field means by it.
      if (it == io.end() || it->is_null()) {
        if (f.required)
          return fail(at.member(f.name), at.member(f.name).path() + " is required: " + accepted(f.value));
        if (it != io.end()) io.erase(it);
        if (f.default_value) io[f.name] = *f.default_value;
        continue;
      }
      if (!value(f.value, *it, at.member(f.name))) return false;
    }
    for (const auto& [earlier, later] : time_order) {
      const auto a = io.find(earlier);
      const auto b = io.find(later);
      if (a == io.end() || b == io.end()) continue;
      const auto ta = crdt::parse_time_us(a->get_ref<const std::string&>());
      const auto tb = crdt::parse_time_us(b->get_ref<const std::string&>());
      if (ta && tb && *tb <= *ta)
        return fail(at.member(later),
                    at.member(later).path() + " must be after " + at.member(earlier).path());
    }
    return true;
  }

  // Checks `io` against `v` and normalises it in place (the body is the
  // caller's to change: no second tree is built).
  bool value(const value_spec& v, json& io, const location& at) {
    const json& in = io;
    switch (v.kind) {
      case value_kind::string: {
        if (!in.is_string()) return wrong(v, at);
        const auto& s = in.get_ref<const std::string&>();
        if (s.size() < v.min_length || s.size() > max_string_bytes) return wrong(v, at);
        if (!valid_utf8(s)) return fail(at, at.path() + " must be valid UTF-8");
        return true;
      }
      case value_kind::integer: {
        // A float (2.5, 1e300, even 2.0) is refused: integers are counts.
        if (!in.is_number_integer()) return wrong(v, at);
        if (in.is_number_unsigned()) {
          const auto u = in.get<std::uint64_t>();
          if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return wrong(v, at);
        }
        const auto n = in.get<std::int64_t>();
        if (n < v.int_min || n > v.int_max) return wrong(v, at);
        io = n;  // an unsigned JSON integer is stored as int64
        return true;
      }
      case value_kind::number: {
        if (!in.is_number()) return wrong(v, at);
        const double d = in.get<double>();
        if (!std::isfinite(d)) return wrong(v, at);
        if (v.number_exclusive ? !(d > v.number_min) : !(d >= v.number_min)) return wrong(v, at);
        return true;
      }
      case value_kind::boolean:
        if (!in.is_boolean()) return wrong(v, at);
        return true;
      case value_kind::enumeration:
        if (!in.is_string() || std::find(v.choices.begin(), v.choices.end(),
                                         in.get_ref<const std::string&>()) == v.choices.end())
          return wrong(v, at);
        return true;
      case value_kind::time: {
        if (!in.is_string() || in.get_ref<const std::string&>().size() > max_string_bytes)
          return wrong(v, at);
        const auto us = crdt::parse_time_us(in.get_ref<const std::string&>());
        if (!us) return wrong(v, at);
        // An offset can carry 9999-12-31T23:00:00-05:00 past year 9999, whose
        // UTC text no RFC 3339 reader (ours included) accepts back.
        std::string text = canonical_time(*us);
        if (!crdt::parse_time_us(text)) return wrong(v, at);
        io = std::move(text);
        return true;
      }
      case value_kind::id_ref: {
        if (!in.is_string() || !valid_id(in.get_ref<const std::string&>())) return wrong(v, at);
        const auto& id = in.get_ref<const std::string&>();
        note_reference(at, make_key(v.ref_kinds.at(0), id));
        return true;
      }
      case value_kind::key_ref: {
        if (!in.is_string()) return wrong(v, at);
        const auto& text = in.get_ref<const std::string&>();
        const auto key = parse_key(text);
        if (!key || std::find(v.ref_kinds.begin(), v.ref_kinds.end(), key->kind->kind) == v.ref_kinds.end())
          return wrong(v, at);
        note_reference(at, text);
        return true;
      }
      case value_kind::array: {
        if (!in.is_array()) return wrong(v, at);
        if (in.size() > max_array_items)
          return fail(at, at.path() + " must have at most " + std::to_string(max_array_items) + " items");
        if (in.size() < v.min_items) return fail(at, at.path() + " must not be empty");
        for (std::size_t i = 0; i < io.size(); ++i)
          if (!value(*v.items, io[i], at.item(i))) return false;
        return true;
      }
      case value_kind::object:
        if (!in.is_object()) return wrong(v, at);
        return object(v.members, v.time_order, io, at, noun_source{});
      case value_kind::tagged: {
        if (!in.is_object()) return wrong(v, at);
        std::vector<std::string> tags;
        for (const auto& variant : v.variants) tags.push_back(variant.tag_value);
        const location tag_at = at.member(v.tag);
        const auto tag = in.find(v.tag);
        if (tag == in.end() || tag->is_null())
          return fail(tag_at, tag_at.path() + " is required: one of " + join(tags, ", "));
        for (const auto& variant : v.variants) {
          if (tag->is_string() && tag->get_ref<const std::string&>() == variant.tag_value)
            return object(variant.members, {}, io, at, noun_source{{}, v.tag, variant.tag_value});
        }
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

  const reference_lookup& references_;
  std::optional<dead_reference> first_dead_;
};

violation refuse(int status, std::string code, std::string message, std::string field = {}) {
  return violation{status, std::move(code), std::move(message), std::move(field)};
}

}  // namespace

validation_result validate(const kind_info& kind, std::string_view id, nlohmann::json body,
                           const reference_lookup& references) {
  using result = validation_result;
  try {
    if (!valid_id(id))
      return result{std::in_place_index<1>,
                    refuse(400, "invalid_id", "the id must match " + std::string(id_pattern))};
    if (!body.is_object())
      return result{std::in_place_index<1>, refuse(400, "bad_json", "the body must be a JSON object")};
    const kind_schema& schema = schema_of(kind);
    validator v(references);
    const std::string noun = article(kind.kind);
    if (!v.object(schema.body.members, schema.body.time_order, body, location{},
                  validator::noun_source{noun}) ||
        !v.references())
      return result{std::in_place_index<1>, std::move(*v.failure)};
    return result{std::in_place_index<0>, std::move(body)};
  } catch (const std::exception&) {
    // Nothing above throws on any JSON value; this is the last line against
    // an exception escaping into the router (allocation failure aside).
    return result{std::in_place_index<1>,
                  refuse(422, "validation_failed", "the body could not be validated")};
  }
}

}  // namespace horao::domain
