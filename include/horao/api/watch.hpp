#pragma once
// GET /v1/watch (API.md "Changes"): what a watch asks for, and the answer to
// a plain GET of the route. The WebSocket itself is net/watch_session; the
// feed of messages is watch_hub.
//
//   ?since=SEQ   replay the change log after SEQ first (as /v1/changes
//                would list it), then the live changes; absent: live only
//   ?kind=K[,K]  only changes of these kinds (known kinds, at most one list)
//
// Invariants: a watch request that parses is one the feed can serve
// completely: `since` is not ahead of this daemon's sequence (a client
// holding a sequence of another daemon, or of a store that was wiped, would
// silently miss changes: 400 bad_query), and not older than what the change
// log can replay (deletions would be missing: 410 resync_required, like
// `resync: true` of /v1/changes; since=0 is always fine, a client starting
// from nothing misses no deletion); every kind is known (400 bad_query) and
// readable by the principal (403 forbidden: a reader asking for
// reservations). A plain GET that would be a valid watch is answered 426
// upgrade_required with `Upgrade: websocket`.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "horao/api/context.hpp"
#include "horao/api/errors.hpp"
#include "horao/api/exchange.hpp"
#include "horao/api/query.hpp"
#include "horao/api/tokens.hpp"

namespace horao::api {

struct watch_request {
  principal who;
  std::optional<std::uint64_t> since;  // nullopt: live changes only
  std::vector<std::string> kinds;      // empty: every kind the principal may see
};

// The query of an admitted /v1/watch request, checked against the store.
std::variant<watch_request, api_error> parse_watch_request(const router_context& ctx, const principal& who,
                                                           const query_params& query);

// The router's handler of /v1/watch without an upgrade: the watch errors
// above, else 426.
void get_watch(router_context& ctx, exchange& ex);

}  // namespace horao::api
