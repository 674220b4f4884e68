// Placeholder: the full parser (flags > environment > .env > defaults, every
// key validated) replaces this.
#include "horao/app/config.hpp"

namespace horao::app {

config parse_config(const std::vector<std::string>&, const std::map<std::string, std::string>& environment) {
  config c;
  if (auto it = environment.find("NODE_ID"); it != environment.end()) c.node_id = it->second;
  if (c.node_id.empty()) c.node_id = "horao";
  return c;
}

std::vector<std::pair<std::string, std::string>> describe(const config& c) { return {{"NODE_ID", c.node_id}}; }

}  // namespace horao::app
