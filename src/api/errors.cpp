#include "horao/api/errors.hpp"

namespace horao::api {
namespace {

response render(int status, std::string_view code, std::string_view message, std::string_view field,
                const nlohmann::json& details) {
  nlohmann::json err = {{"code", code}, {"message", message}};
  if (!field.empty()) err["field"] = field;
  if (!details.is_null()) err["details"] = details;
  response r;
  r.status = status;
  // `replace` keeps a message quoting broken UTF-8 from throwing.
  r.body = nlohmann::json{{"error", std::move(err)}}.dump(-1, ' ', false,
                                                          nlohmann::json::error_handler_t::replace);
  return r;
}

}  // namespace

response error_response(const api_error& e) {
  return render(e.status, e.code, e.message, e.field, e.details);
}

response error_response(int status, std::string_view code, std::string_view message, std::string_view field) {
  return render(status, code, message, field, nullptr);
}

}  // namespace horao::api
