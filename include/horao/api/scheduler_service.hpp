#pragma once
// The scheduling interface over the domain's scheduler: owns the capacity
// index and the scheduler that read one store, and turns decisions into the
// API's refusals (docs/scheduler.md has the rules, docs/api.md the shapes).
//
// Invariants:
//  * the capacity index is built (and subscribed to the store) before the
//    scheduler that reads it, and rebuild() redoes both in that order: the
//    store does not notify on restore(), so recovery must call rebuild();
//  * a refusal carries the decision's status, code, message and field, and
//    for 409s `details` (decision::details()); for a tenant principal the
//    holders of other tenants are summed up anonymously, in the message and
//    in the details, so a refusal never names another tenant's reservation;
//  * pure: no I/O; single-threaded like the store, which must outlive it.

#include <cstdint>

#include "horao/api/scheduling.hpp"
#include "horao/crdt/clock.hpp"
#include "horao/domain/capacity.hpp"
#include "horao/domain/scheduler.hpp"
#include "horao/store/record_store.hpp"

namespace horao::api {

class scheduler_service final : public scheduling {
 public:
  scheduler_service(store::record_store& store, const crdt::hybrid_clock& clock,
                    domain::scheduler_settings settings);
  scheduler_service(const scheduler_service&) = delete;
  scheduler_service& operator=(const scheduler_service&) = delete;

  // After recovery: the capacity index, then the scheduler, from the store.
  void rebuild();

  std::optional<api_error> admit(std::string_view id, nlohmann::json& body, bool is_patch,
                                 const principal& who) override;
  reservation_status status_of(std::string_view id) override;
  domain::amounts capacity(const domain::capacity_query& q) override;
  domain::usage_report usage(std::string_view tenant, std::int64_t at) override;
  std::optional<domain::impact_report> impact_of(std::string_view maintenance_id) override;
  domain::impact_report impact_of(const domain::maintenance_window& window) override;
  std::int64_t now_us() const override { return clock_.now_us(); }

  domain::capacity_index& capacity_index() { return capacity_; }
  domain::scheduler& scheduler() { return scheduler_; }

 private:
  const crdt::hybrid_clock& clock_;
  domain::capacity_index capacity_;  // before scheduler_: built first, destroyed last
  domain::scheduler scheduler_;
};

// The API's refusal for a refused decision, as `who` may see it.
api_error refusal_of(const domain::decision& d, const principal& who);

}  // namespace horao::api
