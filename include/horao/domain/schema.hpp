#pragma once
// The schema of every kind (API.md "Resources"), as data: one declarative
// description per kind, built from shared field groups ("device fields",
// "machine fields"), that validate(), the listing filters and /openapi.json
// all read, so what is documented is what is enforced.
//
// Invariants:
//  * schema_of(k) exists for every kind of all_kinds(); its body is an
//    `object` spec; schemas are built once, immutable, and live as long as
//    the program (references and spans into them stay valid).
//  * every string is at most max_string_bytes, every array at most
//    max_array_items; integers are JSON integers (2.5, 2.0 and 1e300 are
//    not) within int64 and [int_min, int_max]; numbers are finite.
//  * field names are unique within an object, which has at most
//    max_object_members; object members are listed in the order messages
//    and documentation present them, and `members_by_name` lists them by
//    name (byte order: the order of a record's fields and of canonical JSON).
//  * a `read_only` field is computed by the daemon: accepted in a body (a
//    client may echo a GET back) and dropped from the normalised body.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "horao/crdt/record.hpp"
#include "horao/domain/kinds.hpp"

namespace horao::domain {

inline constexpr std::size_t max_string_bytes = 1024;
inline constexpr std::size_t max_array_items = 1024;
inline constexpr std::size_t max_object_members = 64;

enum class value_kind : std::uint8_t {
  string,       // UTF-8 text of min_length..max_string_bytes bytes
  integer,      // a JSON integer in [int_min, int_max]
  number,       // a finite JSON number, >= number_min (> when number_exclusive)
  boolean,      // true or false
  enumeration,  // exactly one of `choices`
  time,         // RFC 3339; normalised to UTC "Z" text
  id_ref,       // the id of a live resource of kind ref_kinds[0]
  key_ref,      // a key "kind/id" of a live resource whose kind is among ref_kinds
  array,        // min_items..max_array_items values of `items`
  object,       // exactly the `members` (unknown ones are refused)
  tagged,       // an object whose `tag` member (a string) picks one of `variants`
};

struct field_spec;
struct variant_spec;

struct value_spec {
  value_kind kind = value_kind::string;
  std::size_t min_length = 0;  // string
  std::int64_t int_min = std::numeric_limits<std::int64_t>::min();
  std::int64_t int_max = std::numeric_limits<std::int64_t>::max();
  double number_min = -std::numeric_limits<double>::infinity();
  bool number_exclusive = false;              // number: > number_min rather than >=
  std::vector<std::string> choices;           // enumeration
  std::vector<std::string> ref_kinds;         // id_ref: one kind; key_ref: the accepted kinds
  std::shared_ptr<const value_spec> items;    // array
  std::size_t min_items = 0;                  // array
  std::vector<field_spec> members;            // object
  std::vector<std::uint8_t> members_by_name;  // object: indexes into members, by name
  // object: pairs (earlier, later) of time members; when both are present the
  // later must be strictly after the earlier ("end > start").
  std::vector<std::pair<std::string, std::string>> time_order;
  std::string tag;                     // tagged: the member that picks the variant
  std::vector<variant_spec> variants;  // tagged
};

struct field_spec {
  std::string name;
  value_spec value;
  bool required = false;
  bool read_only = false;                       // see the invariants above
  std::optional<nlohmann::json> default_value;  // filled in when absent
  std::string default_text;                     // default_value's compact text, when it has one
  crdt::field_id name_id = 0;                   // `name` in crdt::field_names() (json_member: `"name":`)
};

struct variant_spec {
  std::string tag_value;                      // e.g. "compute"
  std::vector<field_spec> members;            // includes the tag member itself
  std::vector<std::uint8_t> members_by_name;  // indexes into members, by name
};

struct kind_schema {
  const kind_info* kind = nullptr;
  value_spec body;  // value_kind::object

  // The top-level fields, in declaration order.
  std::span<const field_spec> fields() const { return body.members; }
  const field_spec* find(std::string_view name) const;
};

const kind_schema& schema_of(const kind_info& kind);

// The JSON Schema type name of a value: "string", "integer", "number",
// "boolean", "array" or "object" (enumerations, times and references are
// strings).
std::string_view json_type_name(const value_spec& v);
// Scalar values (not arrays or objects): listings may filter on top-level
// scalar fields by equality.
bool is_scalar(const value_spec& v);

// Turns the text of a listing filter (`?status=down`) into the JSON value a
// stored field holds when it equals that text, using the field's schema:
// integers and numbers are parsed, "true"/"false" for booleans, times are
// normalised like validate() does. nullopt when the text cannot be such a
// value (the router answers 400 bad_query) or the field is not scalar.
std::optional<nlohmann::json> filter_value(const field_spec& field, std::string_view text);

// The canonical text of a time: UTC, "Z", microseconds only when not zero
// ("2026-12-01T08:00:00Z", "2026-12-01T08:00:00.250000Z").
std::string canonical_time(std::int64_t unix_us);

}  // namespace horao::domain
