#include "horao/api/cluster.hpp"

#include <nlohmann/json.hpp>

namespace horao::api {

void get_cluster(router_context& ctx, exchange& ex) {
  const auto& clock = ctx.store.clock();
  nlohmann::json peers = ctx.peers();
  if (!peers.is_array()) peers = nlohmann::json::array();
  const nlohmann::json body = {
      {"node", crdt::node_names().name(clock.self())}, {"seq", ctx.store.seq()},
      {"clock", crdt::to_string(clock.last())},        {"records", ctx.store.size()},
      {"digest", ctx.store.digest().to_hex()},         {"peers", std::move(peers)},
  };
  response r;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  ex.reply(std::move(r));
}

void post_cluster_sync(router_context& ctx, exchange& ex) {
  ctx.sync_now();
  response r;
  r.status = 202;
  r.body = R"({"status":"sync requested"})";
  ex.reply(std::move(r));
}

}  // namespace horao::api
