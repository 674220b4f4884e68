#include "horao/domain/reservation.hpp"

#include <cmath>

#include "horao/crdt/hlc.hpp"
#include "horao/domain/hardware.hpp"
#include "horao/domain/kinds.hpp"

namespace horao::domain {
namespace {

using nlohmann::json;

const json& member(const json& object, const char* name) {
  static const json null_value;
  if (!object.is_object()) return null_value;
  const auto it = object.find(name);
  return it == object.end() ? null_value : *it;
}

// nullopt when absent; a bad time makes the whole reservation unreadable.
bool read_time(const json& v, std::optional<std::int64_t>& out) {
  if (v.is_null() || v.is_discarded()) return true;
  if (!v.is_string()) return false;
  out = crdt::parse_time_us(v.get_ref<const std::string&>());
  return out.has_value();
}

quantity factor(const json& v) {
  return clamp_to(json_count(v), quantity{1} << 63);
}

std::optional<amounts> demand_of(const json& resources) {
  if (!resources.is_array() || resources.empty()) return std::nullopt;
  amounts sum;
  for (const auto& item : resources) {
    const json& type = member(item, "type");
    if (type == "compute") {
      const json& a = member(item, "amount");
      // `amount` defaults to 1; an explicit bad one asks for nothing. Factors
      // below 2^63 keep their product below 2^126, inside 128 bits.
      const quantity amount = a.is_null() ? 1 : factor(a);
      sum[dimension::cpu] += clamp_to(factor(member(item, "cpu")) * amount, request_cap);
      sum[dimension::ram_gb] += clamp_to(factor(member(item, "ram_gb")) * amount, request_cap);
      if (member(item, "accelerator") == true) sum[dimension::accelerators] += amount;
    } else if (type == "storage") {
      const dimension d =
          member(item, "storage_type") == "object" ? dimension::object_tb : dimension::block_tb;
      sum[d] += json_tb_units(member(item, "capacity_tb"), request_cap);
    } else {
      return std::nullopt;
    }
    // Keep sums in range whatever the number of items.
    for (auto& q : sum.q) q = clamp_to(q, request_cap);
  }
  return sum;
}

std::optional<reservation_spec> spec_of(const json& tenant, const json& resources, const json& start,
                                        const json& end, const json& hsn_only) {
  if (!tenant.is_string() || !valid_id(tenant.get_ref<const std::string&>())) return std::nullopt;
  reservation_spec spec;
  spec.tenant = tenant.get<std::string>();
  if (!read_time(start, spec.start) || !read_time(end, spec.end)) return std::nullopt;
  if (spec.start && spec.end && *spec.end <= *spec.start) return std::nullopt;
  const auto demand = demand_of(resources);
  if (!demand) return std::nullopt;
  spec.demand = *demand;
  spec.hsn_only = hsn_only == true;
  return spec;
}

}  // namespace

std::optional<reservation_spec> parse_reservation(const json& body) {
  if (!body.is_object()) return std::nullopt;
  return spec_of(member(body, "tenant"), member(body, "resources"), member(body, "start"),
                 member(body, "end"), member(body, "hsn_only"));
}

std::optional<reservation_spec> read_reservation(const crdt::record& state) {
  return spec_of(read_field(state, "tenant"), read_field(state, "resources"), read_field(state, "start"),
                 read_field(state, "end"), read_field(state, "hsn_only"));
}

bool tenant_limits::any() const {
  for (const auto& l : limit)
    if (l) return true;
  return false;
}

tenant_limits parse_constraints(const json& constraints) {
  tenant_limits limits;
  if (!constraints.is_object()) return limits;
  for (dimension d : all_dimensions) {
    const json& v = member(constraints, std::string(name_of(d)).c_str());
    if (!v.is_number()) continue;
    if (is_storage(d)) {
      const double tb = v.get<double>();
      if (std::isfinite(tb) && tb >= 0) limits[d] = json_tb_units(v, request_cap);
    } else if (v.is_number_float()) {
      // Only a faulty peer sends a fractional count: keep the whole part,
      // rather than dropping a limit someone meant to set.
      const double x = v.get<double>();
      if (std::isfinite(x) && x >= 0)
        limits[d] = x < 0x1p100 ? static_cast<quantity>(std::floor(x)) : request_cap;
    } else if (v.is_number_unsigned() || v.get<std::int64_t>() >= 0) {
      limits[d] = json_count(v);
    }
  }
  return limits;
}

tenant_limits read_constraints(const crdt::record& state) {
  return parse_constraints(read_field(state, "constraints"));
}

json to_json(const tenant_limits& limits) {
  json out = json::object();
  for (dimension d : all_dimensions)
    if (limits[d]) out[std::string(name_of(d))] = to_json(d, *limits[d]);
  return out;
}

}  // namespace horao::domain
