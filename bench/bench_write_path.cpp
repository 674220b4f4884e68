// The write path of PUT in-process (issue 4's PUT figure, without sockets or
// Redis): the router with the daemon's store subscribers (relation index,
// capacity index and scheduler), an immediate durability, and the body the
// wrk benchmark sends (bench/put_server.lua). Prints this thread's CPU time
// per PUT, split into its parts, so that changes to the user-space part of
// the daemon's PUT can be measured apart from the kernel's (which dominates
// and varies on a shared machine). Measures and prints only (DESIGN §9).
//
//   bench_write_path [puts=200000] [cabinets=1]
//
// `cabinets` spreads the servers over that many cabinets (the wrk benchmark
// puts them all in one, the worst case for the relation index).

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "horao/api/json_body.hpp"
#include "horao/api/resource_write.hpp"
#include "horao/api/router.hpp"
#include "horao/api/scheduler_service.hpp"
#include "horao/crdt/clock.hpp"
#include "horao/domain/relations.hpp"
#include "horao/domain/schema.hpp"
#include "horao/domain/validate.hpp"
#include "horao/store/record_store.hpp"

using namespace horao;

namespace {

constexpr std::int64_t t0 = 1'796'083'200'000'000LL;  // 2026-12-01T00:00:00Z

double cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

std::string body_for(int cabinet) {
  return R"({"cabinet":"cab)" + std::to_string(cabinet) +
         R"(","serial_number":"SN1","model":"R7625","status":"up",)"
         R"("cpus":[{"cores":64,"model":"EPYC 9554","clock_ghz":3.1}],"ram":[{"size_gb":512}]})";
}

}  // namespace

int main(int argc, char** argv) {
  const int puts = argc > 1 ? std::atoi(argv[1]) : 200'000;
  const int cabinets = std::max(1, argc > 2 ? std::atoi(argv[2]) : 1);

  bench::manual_time time(t0);
  crdt::hybrid_clock hlc(*crdt::node_names().intern("bench"), time);
  store::record_store store(hlc);
  store::memory_durability durability;
  app::metric_registry metrics;
  app::config config;
  domain::relation_index relations(store);
  api::router_context ctx{store, durability, metrics, config, relations};
  api::scheduler_service scheduler(store, hlc, domain::scheduler_settings::from_config(90, 1));
  api::attach_scheduling(ctx, scheduler);
  api::router router(std::move(ctx));

  int failed = 0;
  std::size_t answered = 0;
  const auto call = [&](const std::string& method, const std::string& target, const std::string& body) {
    api::request req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.content_type = "application/json";
    router.handle(req, [&](api::response r) {
      failed += r.status >= 300;
      answered += r.body.size();
    });
  };
  call("PUT", "/v1/datacenters/dc1", R"({"name":"bench","number":1})");
  for (int c = 1; c <= cabinets; ++c)
    call("PUT", "/v1/cabinets/cab" + std::to_string(c),
         R"({"datacenter":"dc1","row":1,"position":)" + std::to_string(c) + "}");
  std::vector<std::string> bodies;
  for (int c = 1; c <= cabinets; ++c) bodies.push_back(body_for(c));

  std::printf("write path in-process: %d PUTs of a server record (%zu bytes), %d cabinet(s)\n", puts,
              bodies[0].size(), cabinets);

  // The whole handler: route, parse, validate, store and indexes, answer.
  std::vector<double> per_put;
  per_put.reserve(static_cast<std::size_t>(puts));
  const double start = cpu_us();
  for (int i = 0; i < puts; ++i) {
    time.now += 10;
    const double t = cpu_us();
    call("PUT", "/v1/servers/w-" + std::to_string(i), bodies[static_cast<std::size_t>(i % cabinets)]);
    per_put.push_back(cpu_us() - t);
  }
  const double total = cpu_us() - start;
  std::sort(per_put.begin(), per_put.end());
  std::printf(
      "  PUT through the router      %6.2f us per PUT (p50 %.2f, p99 %.2f, p99.9 %.2f, max %.0f)  %d not 2xx, "
      "%zu bytes answered\n",
      total / puts, per_put[per_put.size() / 2], per_put[per_put.size() * 99 / 100],
      per_put[per_put.size() * 999 / 1000], per_put.back(), failed, answered);

  // Its parts, on the same bodies (the store now holds `puts` servers).
  const api::store_references references(store);
  const domain::kind_info& server = *domain::find_kind("server");
  double t = cpu_us();
  std::size_t fields = 0;
  for (int i = 0; i < puts; ++i) {
    const std::string& body = bodies[static_cast<std::size_t>(i % cabinets)];
    auto tape = api::parse_json_tape(body);
    auto& parsed = std::get<crdt::json_tape>(tape);
    auto checked = api::prepare_body(server, "w-1", parsed, references);
    fields += std::get<domain::normalised_body>(checked).fields.size();
  }
  std::printf("  read + validate the body    %6.2f us\n", (cpu_us() - t) / puts);

  auto first = api::parse_json_tape(bodies[0]);
  const auto writes = std::get<domain::normalised_body>(
                          api::prepare_body(server, "w-1", std::get<crdt::json_tape>(first), references))
                          .writes();
  t = cpu_us();
  for (int i = 0; i < puts; ++i) {
    time.now += 10;
    store.put("server/x-" + std::to_string(i), writes);
  }
  std::printf("  store.put with the indexes  %6.2f us  (%zu records)\n", (cpu_us() - t) / puts, store.size());
  (void)fields;
  return 0;
}
