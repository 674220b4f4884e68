#pragma once
// Validation of a resource body against its kind's schema (DESIGN §6).
//
// Invariants: validate() is pure: the same body, id and live references give
// the same answer. It either refuses with one violation (status, code and the
// JSON pointer of the offending field, per API.md) or returns the body
// normalised: defaults filled in (status "up", hsn false, ...), nothing
// unknown kept. The body holds the resource's own fields only: the caller has
// already removed "kind", "id" and "meta".

#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "horao/domain/kinds.hpp"

namespace horao::domain {

struct violation {
  int status;            // 400 or 422
  std::string code;      // "validation_failed", "bad_json", "invalid_id"
  std::string message;   // for humans: names the field and the accepted form
  std::string field;     // JSON pointer into the body, e.g. "/cpus/1/cores"
};

// Answers whether a key ("kind/id") names a live resource.
class reference_lookup {
 public:
  virtual ~reference_lookup() = default;
  virtual bool alive(std::string_view key) const = 0;
};

using validation_result = std::variant<nlohmann::json, violation>;

validation_result validate(const kind_info& kind, std::string_view id, const nlohmann::json& body,
                           const reference_lookup& references);

}  // namespace horao::domain
