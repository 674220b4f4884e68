#pragma once
// GET /openapi.json: an OpenAPI 3.0 document of this API, generated from the
// routes table (routes.hpp) and the kinds' schemas (domain/json_schema.hpp),
// so it documents what the router does and what validate() enforces.
//
// Invariants: pure and deterministic; every route and method of the table
// appears, with templates over collections expanded per collection
// (/v1/servers, /v1/servers/{id}) so each carries its kind's schema; every
// error response uses the one Error schema of API.md; routes that need no
// token say so with an empty `security`.

#include <nlohmann/json.hpp>
#include <string>

namespace horao::api {

nlohmann::json openapi_document();
// openapi_document() as compact text, built once.
const std::string& openapi_text();

}  // namespace horao::api
