#pragma once
// OpenAPI 3.0 schema objects generated from the kinds' schemas (schema.hpp),
// so /openapi.json documents exactly what validate() enforces.
//
// Invariants: the output is a pure function of the schema table; every
// object has "additionalProperties": false (unknown fields are refused);
// required members are listed in "required"; defaults appear as "default";
// read-only members (computed by the daemon) are marked "readOnly".

#include <nlohmann/json.hpp>

#include "horao/domain/kinds.hpp"
#include "horao/domain/schema.hpp"

namespace horao::domain {

// The schema of one value (a field's type, range, enum, items...).
nlohmann::json openapi_value_schema(const value_spec& v);
// The body accepted by PUT (and, merged, by PATCH) for `kind`.
nlohmann::json openapi_body_schema(const kind_info& kind);
// A resource as read back: the body's fields plus "kind", "id" and "meta",
// which the daemon sets (API.md "Resources").
nlohmann::json openapi_resource_schema(const kind_info& kind);

}  // namespace horao::domain
