#include "horao/api/merge_patch.hpp"

namespace horao::api {

nlohmann::json merge_patch(nlohmann::json target, const nlohmann::json& patch) {
  if (!patch.is_object()) return patch;
  if (!target.is_object()) target = nlohmann::json::object();
  for (const auto& [name, value] : patch.items()) {
    if (value.is_null()) {
      target.erase(name);
      continue;
    }
    auto it = target.find(name);
    if (it == target.end())
      target[name] = merge_patch(nlohmann::json(), value);
    else
      *it = merge_patch(std::move(*it), value);
  }
  return target;
}

}  // namespace horao::api
