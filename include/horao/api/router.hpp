#pragma once
// Request in, response out, no sockets (DESIGN §1): every HTTP route of
// API.md that is not a WebSocket is answered here, so most API tests run
// in-process.
//
// Order of checks, each refusal changing nothing:
//   route (404 unknown_collection, 400 invalid_id) -> token (401; before any
//   route error on a path that needs one) -> method (405 + Allow) -> role
//   (403) -> query (400 bad_query) -> loading (503) -> body size (413) ->
//   the handler (415, 400, 404, 412, 409, 422, 503).
//
// Invariants: `respond` is called exactly once per request; requests are
// counted in /metrics by route template (never by raw path, which would let
// clients create series), method (unknown ones as OTHER) and status, with a
// latency histogram; no exception escapes handle() (an unexpected one is a
// 500 with code "internal").

#include <memory>
#include <variant>

#include "horao/api/context.hpp"
#include "horao/api/http.hpp"
#include "horao/api/query.hpp"
#include "horao/api/routes.hpp"
#include "horao/api/tokens.hpp"

namespace horao::api {

class router {
 public:
  // Registers the router's metric families and scrape-time gauges (records
  // by kind, local sequence, store size, orphans) on context.metrics.
  explicit router(router_context context);
  void handle(const request& req, responder respond);

  // A request that passed the checks before the handler.
  struct admission {
    route_match route;
    query_params query;
    principal who;
  };
  // The checks handle() makes before it dispatches (route, token, method,
  // role, query, loading), in the same order, for an exchange net/ serves
  // itself (the /v1/watch WebSocket upgrade): who asks and the parsed query,
  // or the refusal to send. Records no metrics; the caller does.
  std::variant<admission, response> admit(const request& req) const;

  const router_context& context() const { return ctx_; }

 private:
  class request_metrics;

  router_context ctx_;
  // The per-request series, looked up once per (route, method, status);
  // shared with the replies, which may come after the router is gone.
  std::shared_ptr<request_metrics> request_metrics_;
};

}  // namespace horao::api
