#pragma once
// One request as a handler sees it: the request, its matched route and query,
// who sent it, and the one-shot reply.
//
// Invariants: `reply` is called exactly once, possibly after the handler
// returned (a write waits for durability); everything else is valid only
// while the handler runs, so a deferred reply captures copies, never these
// references.

#include "horao/api/http.hpp"
#include "horao/api/query.hpp"
#include "horao/api/routes.hpp"
#include "horao/api/tokens.hpp"

namespace horao::api {

struct exchange {
  const request& req;
  const route_match& route;
  const query_params& query;
  const principal& who;
  responder reply;  // records metrics, then answers
};

}  // namespace horao::api
