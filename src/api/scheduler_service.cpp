#include "horao/api/scheduler_service.hpp"

#include "horao/domain/schema.hpp"

namespace horao::api {
namespace {

using nlohmann::json;

// One holder as the domain's message shows it: "reservation/r1 (tenant t1, 60)".
std::string holder_text(const domain::holder& h, domain::dimension dim) {
  return h.key + " (" + (h.tenant.empty() ? "" : "tenant " + h.tenant + ", ") +
         domain::format_quantity(dim, h.amount) + ")";
}

// A tenant may see its own reservations and the maintenances among who holds
// the capacity it lacks, not the other tenants' reservations: those are
// summed up as one anonymous figure, in the message and in the details.
void redact_holders(const domain::decision& d, const principal& who, api_error& e) {
  if (who.role != role::tenant || d.shortages.empty() || !d.worst_at) return;
  const domain::dimension dim = d.shortages.front().dim;
  std::vector<const domain::holder*> shown;
  domain::quantity others = 0;
  std::size_t other_count = 0;
  for (const auto& h : d.holders) {
    if (h.tenant.empty() || h.tenant == who.tenant) {
      shown.push_back(&h);
    } else {
      others += h.amount;
      ++other_count;
    }
  }
  if (other_count == 0) return;

  // The domain's message ends with "; at TIME DIM is held by HOLDERS".
  const std::string marker = "; at " + domain::canonical_time(*d.worst_at) + " " +
                             std::string(domain::name_of(dim)) + " is held by ";
  if (const auto at = e.message.find(marker); at != std::string::npos) {
    std::string text = e.message.substr(0, at + marker.size());
    for (std::size_t i = 0; i < shown.size(); ++i) text += (i ? ", " : "") + holder_text(*shown[i], dim);
    text += std::string(shown.empty() ? "" : ", ") + std::to_string(other_count) + " reservation" +
            (other_count == 1 ? "" : "s") + " of other tenants (" + domain::format_quantity(dim, others) +
            ")";
    e.message = std::move(text);
  }
  json holders = json::array();
  for (const auto& item : e.details["holders"])
    if (!item.contains("tenant") || item["tenant"] == who.tenant) holders.push_back(item);
  e.details["holders"] = std::move(holders);
  e.details["others"] = {{"reservations", other_count}, {"amount", domain::to_json(dim, others)}};
}

}  // namespace

api_error refusal_of(const domain::decision& d, const principal& who) {
  api_error e{d.status, d.code, d.message, d.field};
  if (d.status == 409) e.details = d.details();
  redact_holders(d, who, e);
  return e;
}

scheduler_service::scheduler_service(store::record_store& store, const crdt::hybrid_clock& clock,
                                     domain::scheduler_settings settings)
    : clock_(clock), capacity_(store), scheduler_(store, capacity_, settings) {}

void scheduler_service::rebuild() {
  capacity_.rebuild();
  scheduler_.rebuild();
}

std::optional<api_error> scheduler_service::admit(std::string_view id, json& body, bool is_patch,
                                                  const principal& who) {
  domain::decision d =
      scheduler_.decide(id, body, now_us(), is_patch ? domain::write_mode::patch : domain::write_mode::put);
  if (!d.accepted()) return refusal_of(d, who);
  body = std::move(d.body);
  return std::nullopt;
}

reservation_status scheduler_service::status_of(std::string_view id) {
  const auto s = scheduler_.status_of(id);
  if (!s || s->accepted) return {};
  return {"conflicted", s->reason};
}

domain::amounts scheduler_service::capacity(const domain::capacity_query& q) {
  return capacity_.capacity(q);
}

domain::usage_report scheduler_service::usage(std::string_view tenant, std::int64_t at) {
  return scheduler_.usage(tenant, at);
}

std::optional<domain::impact_report> scheduler_service::impact_of(std::string_view maintenance_id) {
  return scheduler_.impact_of(maintenance_id);
}

domain::impact_report scheduler_service::impact_of(const domain::maintenance_window& window) {
  return scheduler_.impact_of(window);
}

}  // namespace horao::api
