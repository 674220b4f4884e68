#include "horao/net/upgrade_registry.hpp"

namespace horao::net {

void upgrade_registry::add(std::string path, upgrade_handler handler) {
  handlers_.insert_or_assign(std::move(path), std::move(handler));
}

const upgrade_handler* upgrade_registry::find(std::string_view path) const {
  auto it = handlers_.find(path);
  return it == handlers_.end() ? nullptr : &it->second;
}

}  // namespace horao::net
