#include "horao/api/watch.hpp"

#include <algorithm>

#include "horao/api/access.hpp"
#include "horao/domain/kinds.hpp"

namespace horao::api {

std::variant<watch_request, api_error> parse_watch_request(const router_context& ctx, const principal& who,
                                                           const query_params& query) {
  watch_request w{who, std::nullopt, {}};
  if (query.find("since")) {
    const auto since = query.unsigned_value("since", 0);
    if (auto* e = std::get_if<api_error>(&since)) return *e;
    const std::uint64_t s = std::get<std::uint64_t>(since);
    if (s > ctx.store.seq())
      return bad_query("since", "is ahead of this daemon's sequence " + std::to_string(ctx.store.seq()) +
                                    " (sequence numbers are per daemon)");
    if (s > 0 && s < ctx.store.oldest_replayable())
      return api_error{410, "resync_required",
                       "since=" + std::to_string(s) + " is older than the change log can replay (" +
                           std::to_string(ctx.store.oldest_replayable()) +
                           "): deletions would be missing; list the collections again, then watch from "
                           "the `seq` of /v1/cluster",
                       ""};
    w.since = s;
  }
  if (const std::string* list = query.find("kind")) {
    std::string_view rest = *list;
    while (true) {
      const auto comma = rest.find(',');
      const std::string_view name = rest.substr(0, comma);
      const domain::kind_info* k = domain::find_kind(name);
      if (!k) return bad_query("kind", "'" + std::string(name.substr(0, 64)) + "' is not a kind");
      if (!may_read_kind(who, k->kind))
        return api_error{403, "forbidden", "this token may not read " + std::string(k->collection), ""};
      if (std::find(w.kinds.begin(), w.kinds.end(), k->kind) == w.kinds.end()) w.kinds.emplace_back(k->kind);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return w;
}

void get_watch(router_context& ctx, exchange& ex) {
  auto w = parse_watch_request(ctx, ex.who, ex.query);
  if (auto* e = std::get_if<api_error>(&w)) return ex.reply(error_response(*e));
  response r = error_response(426, "upgrade_required",
                              "/v1/watch is a WebSocket: send the upgrade request (Connection: Upgrade, "
                              "Upgrade: websocket)");
  r.headers.emplace_back("Upgrade", "websocket");
  ex.reply(std::move(r));
}

}  // namespace horao::api
