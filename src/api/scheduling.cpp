#include "horao/api/scheduling.hpp"

namespace horao::api {

void attach_scheduling(router_context& ctx, scheduling& s) {
  ctx.scheduler = &s;
  ctx.admit_reservation = [&s](std::string_view id, nlohmann::json& body, bool is_patch,
                               const principal& who) { return s.admit(id, body, is_patch, who); };
  ctx.reservation_status_of = [&s](std::string_view id, const crdt::record&) { return s.status_of(id); };
}

}  // namespace horao::api
