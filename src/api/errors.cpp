#include "horao/api/errors.hpp"

#include <nlohmann/json.hpp>

namespace horao::api {

response error_response(const api_error& e) {
  return error_response(e.status, e.code, e.message, e.field);
}

response error_response(int status, std::string_view code, std::string_view message, std::string_view field) {
  nlohmann::json err = {{"code", code}, {"message", message}};
  if (!field.empty()) err["field"] = field;
  response r;
  r.status = status;
  // `replace` keeps a message quoting broken UTF-8 from throwing.
  r.body = nlohmann::json{{"error", std::move(err)}}.dump(-1, ' ', false,
                                                          nlohmann::json::error_handler_t::replace);
  return r;
}

}  // namespace horao::api
