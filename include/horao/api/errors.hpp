#pragma once
// The JSON error of API.md: {"error": {"code", "message", "field"?}}.
// Invariants: every refusal the daemon sends is built here, so status, code
// and body shape cannot drift apart.

#include <string>
#include <string_view>

#include "horao/api/http.hpp"

namespace horao::api {

struct api_error {
  int status;
  std::string code;
  std::string message;
  std::string field;  // JSON pointer, empty when not about one field
};

response error_response(const api_error& e);
response error_response(int status, std::string_view code, std::string_view message,
                        std::string_view field = {});

}  // namespace horao::api
