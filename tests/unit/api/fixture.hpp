#pragma once
// An in-process daemon for the API tests: a store over a hybrid clock with a
// fake time source, the relation index, a durability the test controls, a
// metric registry, a config and a router. call() sends one request and
// returns what the router answered. fixture(with_scheduler) also wires the
// real scheduler (capacity index, scheduler, the scheduling routes and the
// reservation hooks) the way the daemon does.

#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "horao/api/router.hpp"
#include "horao/api/scheduler_service.hpp"
#include "horao/api/sha256.hpp"
#include "horao/crdt/clock.hpp"
#include "horao/domain/relations.hpp"

namespace horao::api::test {

using nlohmann::json;

struct fake_time final : crdt::time_source {
  std::int64_t now = 1'780'000'000'000'000;  // 2026-05-28
  std::int64_t now_us() const override { return now; }
};

// Simulates Redis: refuse writes (down), confirm or fail, or hold
// confirmations until release().
struct test_durability final : store::durability {
  bool accepting = true;
  std::string reason = "redis unreachable";
  bool confirm = true;
  bool hold = false;
  std::vector<std::pair<std::uint64_t, std::function<void(bool)>>> held;

  void when_durable(std::uint64_t seq, std::function<void(bool)> done) override {
    if (hold)
      held.emplace_back(seq, std::move(done));
    else
      done(confirm);
  }
  bool accepting_writes(std::string* r) const override {
    if (!accepting && r) *r = reason;
    return accepting;
  }
  void release(bool ok) {
    auto pending = std::move(held);
    held.clear();
    for (auto& [seq, done] : pending) done(ok);
  }
};

struct with_scheduler_t {
  explicit with_scheduler_t() = default;
};
inline constexpr with_scheduler_t with_scheduler{};

struct state_mark {
  std::uint64_t seq;
  crdt::hash128 digest;
  friend bool operator==(const state_mark&, const state_mark&) = default;
};

// Headers of a request.
struct options {
  std::string content_type = "application/json";
  std::string authorization;
  std::string if_match;
};

class fixture {
 public:
  fake_time time;
  crdt::hybrid_clock clock{*crdt::node_names().intern("dc-test"), time};
  store::record_store store{clock};
  domain::relation_index relations{store};
  test_durability durability;
  app::metric_registry metrics;
  app::config config;
  std::optional<api::scheduler_service> scheduling;  // with_scheduler only
  std::optional<api::router> router;

  explicit fixture(std::function<void(router_context&)> customise = {})
      : fixture(false, std::move(customise)) {}
  // `customise` runs after the scheduler is attached, so it may override a hook.
  explicit fixture(with_scheduler_t, std::function<void(router_context&)> customise = {})
      : fixture(true, std::move(customise)) {}

  // The answer, or nullopt while the router has not answered (held write).
  std::optional<response> try_call(std::string method, std::string target, std::string body = {},
                                   options o = {}) {
    request req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    req.content_type = o.content_type;
    req.authorization = o.authorization;
    req.if_match = o.if_match;
    // Shared with the responder: a held write is answered after this returns.
    struct answer {
      std::optional<response> out;
      int calls = 0;
    };
    auto a = std::make_shared<answer>();
    router->handle(req, [a](response r) {
      ++a->calls;
      a->out = std::move(r);
    });
    REQUIRE(a->calls <= 1);
    return a->out;
  }

  response call(std::string method, std::string target, std::string body = {}, options o = {}) {
    auto r = try_call(std::move(method), std::move(target), std::move(body), std::move(o));
    REQUIRE(r.has_value());
    return std::move(*r);
  }

  response put(const std::string& target, const json& body, options o = {}) {
    return call("PUT", target, body.dump(), std::move(o));
  }
  response get(const std::string& target, options o = {}) { return call("GET", target, {}, std::move(o)); }

  state_mark mark() const { return {store.seq(), store.digest()}; }

  // A small datacenter: dc1 > cab1 > (ch1 > b1 > n1), s1 (+ disk d1), sw1; net1; tenant t1.
  void seed() {
    expect_created(put("/v1/datacenters/dc1", {{"name", "Amsterdam"}, {"number", 1}}));
    expect_created(put("/v1/cabinets/cab1", {{"datacenter", "dc1"}, {"row", 1}, {"position", 3}}));
    expect_created(put("/v1/chassis/ch1", {{"cabinet", "cab1"}, {"position", 1}}));
    expect_created(put("/v1/blades/b1", {{"chassis", "ch1"}, {"position", 1}}));
    expect_created(put("/v1/nodes/n1", {{"blade", "b1"}}));
    expect_created(put("/v1/servers/s1", server_body()));
    expect_created(put("/v1/disks/d1", {{"machine", "server/s1"}, {"capacity_tb", 4}}));
    expect_created(put("/v1/switches/sw1", {{"cabinet", "cab1"}, {"switch_type", "access"}, {"layer", 2}}));
    expect_created(
        put("/v1/networks/net1", {{"datacenter", "dc1"}, {"network_type", "data"}, {"hsn", true}}));
    expect_created(put("/v1/tenants/t1", {{"owner", "alice"}}));
  }

  static json server_body() {
    return {{"cabinet", "cab1"},
            {"cpus", {{{"cores", 64}, {"model", "EPYC 9554"}, {"clock_ghz", 3.1}}}},
            {"ram", {{{"size_gb", 512}}}}};
  }

  static void expect_created(const response& r) {
    INFO(r.body);
    REQUIRE(r.status == 201);
  }

 private:
  fixture(bool scheduled, std::function<void(router_context&)> customise) {
    config.node_id = "dc-test";
    router_context ctx{store, durability, metrics, config, relations};
    if (scheduled) {
      scheduling.emplace(store, clock,
                         domain::scheduler_settings::from_config(config.planning_window_days,
                                                                 config.planning_interval_hours));
      attach_scheduling(ctx, *scheduling);
    }
    if (customise) customise(ctx);
    router.emplace(std::move(ctx));
  }
};

inline json body_of(const response& r) {
  INFO(r.body);
  return json::parse(r.body);
}

inline std::string error_code(const response& r) {
  const auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.contains("error")) return "<no error body: " + r.body + ">";
  return j["error"].value("code", "<no code>");
}

inline std::string error_field(const response& r) {
  const auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.contains("error")) return "<no error body>";
  return j["error"].value("field", "");
}

// One token per role: admin, reader, and the tenants t1 and t2.
inline std::shared_ptr<const token_table> role_tokens() {
  const auto line = [](std::string_view token, std::string_view rest) {
    return to_hex(sha256(token)) + " " + std::string(rest) + "\n";
  };
  return std::make_shared<token_table>(
      token_table::parse(line("admin-token", "admin") + line("reader-token", "reader") +
                         line("t1-token", "tenant t1") + line("t2-token", "tenant t2")));
}
inline const options as_admin{.authorization = "Bearer admin-token"};
inline const options as_reader{.authorization = "Bearer reader-token"};
inline const options as_t1{.authorization = "Bearer t1-token"};
inline const options as_t2{.authorization = "Bearer t2-token"};

inline std::string header(const response& r, std::string_view name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return {};
}

}  // namespace horao::api::test
