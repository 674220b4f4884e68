#include "horao/domain/decision.hpp"

#include "horao/domain/schema.hpp"

namespace horao::domain {

nlohmann::json short_json(const amounts& short_by) {
  nlohmann::json out = nlohmann::json::object();
  for (dimension d : all_dimensions)
    if (short_by[d] > 0) out[std::string(name_of(d))] = to_json(d, short_by[d]);
  return out;
}

nlohmann::json decision::details() const {
  using nlohmann::json;
  if (breach) {
    const dimension d = breach->dim;
    return {{"dimension", name_of(d)},
            {"limit", to_json(d, breach->limit)},
            {"asked", to_json(d, breach->asked)},
            {"held", to_json(d, breach->held)}};
  }
  if (shortages.empty()) return nullptr;
  json out = json::object();
  json list = json::array();
  for (const auto& s : shortages)
    list.push_back({{"dimension", name_of(s.dim)},
                    {"pool", name_of(s.in)},
                    {"asked", to_json(s.dim, s.asked)},
                    {"available", to_json(s.dim, s.available)},
                    {"short", to_json(s.dim, s.short_by)}});
  out["shortages"] = std::move(list);
  if (worst_at) out["at"] = canonical_time(*worst_at);
  json who = json::array();
  const dimension d = shortages.front().dim;
  for (const auto& h : holders) {
    json item = {{"key", h.key}, {"amount", to_json(d, h.amount)}};
    if (!h.tenant.empty()) item["tenant"] = h.tenant;
    who.push_back(std::move(item));
  }
  out["holders"] = std::move(who);
  return out;
}

}  // namespace horao::domain
