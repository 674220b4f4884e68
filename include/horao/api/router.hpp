#pragma once
// Request in, response out, no sockets (DESIGN §1): every HTTP route of
// API.md is answered here, so most API tests run in-process.
//
// Invariants: `respond` is called exactly once per request; a request that is
// refused changes nothing; requests are counted in /metrics by route
// template (never by raw path, which would let clients create series) and
// status, with a latency histogram.

#include <functional>
#include <string>

#include "horao/api/http.hpp"
#include "horao/app/config.hpp"
#include "horao/app/metrics.hpp"
#include "horao/store/durability.hpp"
#include "horao/store/record_store.hpp"

namespace horao::api {

struct router_context {
  store::record_store& store;
  store::durability& durability;
  app::metric_registry& metrics;
  const app::config& config;
  // Whether recovery has finished; fills `reason` when not.
  std::function<bool(std::string* reason)> loaded = [](std::string*) { return true; };
};

class router {
 public:
  explicit router(router_context context);
  void handle(const request& req, responder respond);

 private:
  router_context ctx_;
};

}  // namespace horao::api
