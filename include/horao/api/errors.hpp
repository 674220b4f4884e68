#pragma once
// The JSON error of API.md: {"error": {"code", "message", "field"?, "details"?}}.
// Invariants: every refusal the daemon sends is built here, so status, code
// and body shape cannot drift apart. `details` is an optional machine-readable
// supplement (a scheduler refusal's shortages or breached limit); the
// message alone always says what is wrong.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "horao/api/http.hpp"

namespace horao::api {

struct api_error {
  int status;
  std::string code;
  std::string message;
  std::string field;                 // JSON pointer, empty when not about one field
  nlohmann::json details = nullptr;  // null: none
};

response error_response(const api_error& e);
// Without details.
response error_response(int status, std::string_view code, std::string_view message,
                        std::string_view field = {});

}  // namespace horao::api
