#pragma once
// Validation of a resource body against its kind's schema (DESIGN §6,
// schema.hpp).
//
// Invariants: validate() is pure: the same body, id and live references give
// the same answer, whichever form the body is given in (a tape or a tree). It
// never throws. It either refuses with one violation (status, code and the
// JSON pointer of the offending field, per API.md) or returns the body
// normalised: defaults filled in (status "up", hsn false,
// ...), integers as int64, times as UTC text (schema.hpp canonical_time),
// read-only fields (a reservation's status, conflict) and null members
// dropped, nothing unknown kept. Validating a normalised body again gives it
// back unchanged. The body holds the resource's own fields only: the caller
// has already removed "kind", "id" and "meta".
//
// Refusals, in the order they are looked for:
//  * 400 invalid_id: `id` does not match the id pattern;
//  * 400 bad_json: the body is not a JSON object (field "");
//  * 422 validation_failed, walking the schema in declaration order, at each
//    object first its unknown members, then each member: missing required,
//    wrong type, out of range, bad enum, bad time, too long, too many items;
//    then "end must be after start";
//  * 422 validation_failed: the first reference (id or key) that does not
//    name a live resource, checked only once the whole shape is good.
// A member whose value is null counts as absent (a required one is then
// missing).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "horao/crdt/json_tape.hpp"
#include "horao/crdt/record.hpp"
#include "horao/domain/kinds.hpp"

namespace horao::domain {

struct violation {
  int status;           // 400 or 422
  std::string code;     // "validation_failed", "bad_json", "invalid_id"
  std::string message;  // for humans: names the field and the accepted form
  std::string field;    // JSON pointer into the body, e.g. "/cpus/1/cores"
};

// Answers whether a key ("kind/id") names a live resource.
class reference_lookup {
 public:
  virtual ~reference_lookup() = default;
  virtual bool alive(std::string_view key) const = 0;
};

// A body that passed: each top-level field's canonical text (compact JSON
// exactly as nlohmann::json::dump() writes the normalised value), by name.
struct normalised_body {
  struct field {
    std::string_view name;  // the schema's own text: valid for the program's life
    std::uint32_t offset = 0;
    std::uint32_t size = 0;
    crdt::field_id name_id = 0;  // `name` in crdt::field_names()
  };
  std::string text;           // the fields' texts, back to back
  std::vector<field> fields;  // by name (the store's field order)

  std::string_view value(const field& f) const { return std::string_view(text).substr(f.offset, f.size); }
  // One write per field, for record_store::put.
  std::vector<crdt::field_write> writes() const;
  // The same body as a tree (for the scheduler and for callers that hold trees).
  nlohmann::json to_json() const;
};

using body_result = std::variant<normalised_body, violation>;

// Validates the object at node `body` of `tape` (members erased from the tape
// are not seen) and writes its normalised fields. The hot path of PUT.
body_result validate(const kind_info& kind, std::string_view id, const crdt::json_tape& tape,
                     std::uint32_t body, const reference_lookup& references);

// The same rules for a body held as a tree (a PATCH after the merge, batch
// operations): the normalised body as a tree.
using validation_result = std::variant<nlohmann::json, violation>;
validation_result validate(const kind_info& kind, std::string_view id, const nlohmann::json& body,
                           const reference_lookup& references);

}  // namespace horao::domain
