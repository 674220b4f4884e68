// Scheduler and capacity view at size (issue 6): 100,000 machines, 10,000
// accepted reservations, maintenance windows; prints latency percentiles,
// including GET /v1/capacity through the router in-process.
// Measures and prints only; asserts nothing (DESIGN §9).
//
//   bench_scheduler [machines=100000] [reservations=10000] [decisions=2000]
//
// Per-operation figures are this thread's CPU time (CLOCK_THREAD_CPUTIME_ID):
// on a shared machine wall-clock percentiles mostly measure waiting for a
// core. Totals are given in both.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "horao/api/router.hpp"
#include "horao/api/scheduler_service.hpp"
#include "horao/crdt/clock.hpp"
#include "horao/domain/capacity.hpp"
#include "horao/domain/relations.hpp"
#include "horao/domain/scheduler.hpp"
#include "horao/domain/schema.hpp"
#include "horao/store/record_store.hpp"

using namespace horao;
using bench::clock_type;
using bench::fields_of;
using bench::ms_since;
using nlohmann::json;

namespace {

constexpr std::int64_t hour_us = 3'600'000'000LL;
constexpr std::int64_t t0 = 1'796'083'200'000'000LL;  // 2026-12-01T00:00:00Z

// This thread's CPU time in microseconds.
double cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

struct percentiles {
  double p50, p99, max;
};
percentiles summarize(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[std::min(us.size() - 1, static_cast<std::size_t>(q * static_cast<double>(us.size())))];
  };
  return {at(0.50), at(0.99), us.back()};
}
void print(const char* what, const std::vector<double>& us) {
  const auto p = summarize(us);
  std::printf("  %-58s p50 %9.2f us  p99 %9.2f us  max %9.2f us  (n=%zu)\n", what, p.p50, p.p99, p.max,
              us.size());
}

json compute_item(int cpu, int ram, bool acc, int amount) {
  return {{"type", "compute"}, {"cpu", cpu}, {"ram_gb", ram}, {"accelerator", acc}, {"amount", amount}};
}

}  // namespace

int main(int argc, char** argv) {
  const int machines = argc > 1 ? std::atoi(argv[1]) : 100'000;
  const int target_reservations = argc > 2 ? std::atoi(argv[2]) : 10'000;
  const int decisions = argc > 3 ? std::atoi(argv[3]) : 2'000;
  std::mt19937_64 rng(42);

  bench::manual_time time(t0);
  crdt::hybrid_clock hlc(*crdt::node_names().intern("bench"), time);
  store::record_store store(hlc);
  // The capacity index and the scheduler as the daemon wires them (one
  // owner, the router's scheduling interface); the sections below use them
  // directly, except the one that goes through the router.
  api::scheduler_service service(store, hlc, domain::scheduler_settings::from_config(30, 1));
  domain::capacity_index& capacity = service.capacity_index();
  domain::scheduler& sched = service.scheduler();
  auto put = [&](const std::string& key, const json& body) {
    const auto f = fields_of(body);
    store.put(key, f);
    time.now += 1;
  };

  // ---- hardware: half servers (40 per cabinet), half nodes (chassis of 10 blades) ----
  std::printf("bench_scheduler: %d machines, %d reservations, %d decisions\n", machines, target_reservations,
              decisions);
  auto start = clock_type::now();
  const int dcs = 4;
  for (int d = 0; d < dcs; ++d) {
    put("datacenter/dc" + std::to_string(d), {{"name", "dc"}, {"number", d}});
    put("network/hsn" + std::to_string(d),
        {{"datacenter", "dc" + std::to_string(d)}, {"network_type", "data"}, {"hsn", true}});
  }
  int made = 0, cab = 0;
  while (made < machines) {
    const std::string dc = "dc" + std::to_string(cab % dcs);
    const std::string c = "c" + std::to_string(cab++);
    put("cabinet/" + c, {{"datacenter", dc}, {"row", 1}, {"position", 1}});
    const bool servers = cab % 2 == 0;
    for (int i = 0; i < 40 && made < machines; ++i, ++made) {
      const std::string id = "m" + std::to_string(made);
      json m = {{"status", "up"},
                {"cpus", json::array({{{"cores", 32}}, {{"cores", 32}}})},
                {"ram", json::array({{{"size_gb", 256}}, {{"size_gb", 256}}})},
                {"accelerators", made % 8 == 0 ? json::array({{{"model", "H100"}}}) : json::array()}};
      if (made % 2 == 0) m["networks"] = json::array({"hsn" + std::to_string(cab % dcs)});
      std::string key;
      if (servers) {
        m["cabinet"] = c;
        key = "server/" + id;
      } else {
        if (i % 10 == 0)
          put("chassis/" + c + "-" + std::to_string(i / 10), {{"cabinet", c}, {"position", 1 + i / 10}});
        const std::string blade = c + "-b" + std::to_string(i);
        put("blade/" + blade,
            {{"chassis", c + "-" + std::to_string(i / 10)}, {"position", 1 + i % 10}, {"status", "up"}});
        m["blade"] = blade;
        key = "node/" + id;
      }
      put(key, m);
      put("disk/" + id,
          {{"machine", key}, {"capacity_tb", 3.84}, {"storage_type", made % 4 == 0 ? "object" : "block"}});
    }
  }
  const double load_ms = ms_since(start);
  std::printf("  loaded %zu records (hardware, incrementally indexed) in %.0f ms wall, %.0f ms CPU\n",
              store.size(), load_ms, cpu_us() / 1000);

  // ---- maintenances: 50 cabinets, a few hours each, some overlapping ----
  for (int i = 0; i < 50; ++i) {
    const std::int64_t s = t0 + static_cast<std::int64_t>(rng() % (60 * 24)) * hour_us;
    put("maintenance/mw" + std::to_string(i),
        {{"start", domain::canonical_time(s)},
         {"end", domain::canonical_time(s + 8 * hour_us)},
         {"reason", "bench"},
         {"targets",
          json::array({"cabinet/c" + std::to_string(rng() % static_cast<unsigned>(cab)), "cabinet/c0"})}});
  }
  const auto total = capacity.capacity({});
  std::printf(
      "  capacity: cpu %s, ram_gb %s, accelerators %s, block_tb %s, object_tb %s\n",
      domain::to_string(total[domain::dimension::cpu]).c_str(),
      domain::to_string(total[domain::dimension::ram_gb]).c_str(),
      domain::to_string(total[domain::dimension::accelerators]).c_str(),
      domain::format_quantity(domain::dimension::block_tb, total[domain::dimension::block_tb]).c_str(),
      domain::format_quantity(domain::dimension::object_tb, total[domain::dimension::object_tb]).c_str());

  // ---- reservations: decided and written until target_reservations are accepted ----
  for (int t = 0; t < 100; ++t) put("tenant/t" + std::to_string(t), {{"owner", "bench"}});
  auto random_request = [&](bool with_start) {
    const int cpu = 8 << (rng() % 5);  // 8..128 per unit
    const int amount = 1 + static_cast<int>(rng() % 400);
    json resources = json::array({compute_item(cpu, cpu * 8, rng() % 10 == 0, amount)});
    if (rng() % 3 == 0)
      resources.push_back({{"type", "storage"},
                           {"capacity_tb", 1 + static_cast<int>(rng() % 200)},
                           {"storage_type", rng() % 2 ? "block" : "object"},
                           {"storage_class", "warm"}});
    json body = {{"tenant", "t" + std::to_string(rng() % 100)},
                 {"resources", resources},
                 {"hsn_only", rng() % 5 == 0}};
    const std::int64_t s = t0 + static_cast<std::int64_t>(rng() % (60 * 24)) * hour_us;
    const std::int64_t len = (1 + static_cast<std::int64_t>(rng() % (7 * 24))) * hour_us;
    if (with_start) body["start"] = domain::canonical_time(s);
    if (rng() % 50 != 0 || !with_start)
      body["end"] = domain::canonical_time((with_start ? s : time.now) + len);
    return body;
  };
  start = clock_type::now();
  const double fill_cpu = cpu_us();
  int accepted = 0, refused = 0;
  std::vector<double> write_path;
  while (accepted < target_reservations && refused < 20 * target_reservations) {
    const json body = random_request(true);
    const std::string id = "r" + std::to_string(accepted + refused);
    const double t = cpu_us();
    const auto d = sched.decide(id, body, time.now);
    if (d.accepted()) {
      put("reservation/" + id, d.body);
      (void)sched.status_of(id);  // the router reads the status back for its answer
      ++accepted;
    } else {
      ++refused;
    }
    write_path.push_back(cpu_us() - t);
  }
  std::printf("  %d reservations accepted, %d refused while filling, in %.0f ms wall, %.0f ms CPU\n",
              accepted, refused, ms_since(start), (cpu_us() - fill_cpu) / 1000);
  print("decide + write + status read, while filling", write_path);
  std::printf("  conflicted after filling: %zu\n", sched.conflicted_count());

  std::printf("\ncapacity view (GET /v1/capacity)\n");
  {
    // Sub-microsecond: each sample times a batch of 100 queries.
    std::vector<double> plain, per_dc, hsn, at;
    volatile domain::quantity sink = 0;
    constexpr int batch = 100;
    for (int i = 0; i < 2'000; ++i) {
      double t = cpu_us();
      for (int k = 0; k < batch; ++k) sink = sink + capacity.capacity({})[domain::dimension::cpu];
      plain.push_back((cpu_us() - t) / batch);
      t = cpu_us();
      for (int k = 0; k < batch; ++k)
        sink = sink + capacity.capacity({"dc2", false, std::nullopt})[domain::dimension::cpu];
      per_dc.push_back((cpu_us() - t) / batch);
      t = cpu_us();
      for (int k = 0; k < batch; ++k)
        sink = sink + capacity.capacity({{}, true, std::nullopt})[domain::dimension::cpu];
      hsn.push_back((cpu_us() - t) / batch);
      const std::int64_t when = t0 + static_cast<std::int64_t>(rng() % (60 * 24)) * hour_us;
      t = cpu_us();
      for (int k = 0; k < batch; ++k)
        sink = sink + capacity.capacity({{}, false, when + k})[domain::dimension::cpu];
      at.push_back((cpu_us() - t) / batch);
    }
    print("all datacenters", plain);
    print("?datacenter=dc2", per_dc);
    print("?hsn_only=true", hsn);
    print("?at=TIME (50 maintenance windows)", at);
    std::vector<double> rebuild;
    for (int i = 0; i < 3; ++i) {
      const double t = cpu_us();
      capacity.rebuild();
      rebuild.push_back(cpu_us() - t);
    }
    print("capacity_index rebuild from the store (recovery)", rebuild);
  }

  std::printf(
      "\ncapacity view through the router, in-process (GET /v1/capacity: route, query, JSON answer)\n");
  {
    store::memory_durability durability;
    app::metric_registry metrics;
    app::config config;
    domain::relation_index relations(store);
    api::router_context ctx{store, durability, metrics, config, relations};
    api::attach_scheduling(ctx, service);
    api::router router(std::move(ctx));
    std::size_t answered_bytes = 0;
    int not_ok = 0;
    const auto get = [&](const std::string& target) {
      api::request req;
      req.method = "GET";
      req.target = target;
      router.handle(req, [&](api::response r) {
        answered_bytes += r.body.size();
        not_ok += r.status != 200;
      });
    };
    std::vector<double> plain, per_dc, hsn, at;
    for (int i = 0; i < 20'000; ++i) {
      double t = cpu_us();
      get("/v1/capacity");
      plain.push_back(cpu_us() - t);
      t = cpu_us();
      get("/v1/capacity?datacenter=dc2");
      per_dc.push_back(cpu_us() - t);
      t = cpu_us();
      get("/v1/capacity?hsn_only=true");
      hsn.push_back(cpu_us() - t);
      const std::string when =
          domain::canonical_time(t0 + static_cast<std::int64_t>(rng() % (60 * 24)) * hour_us);
      t = cpu_us();
      get("/v1/capacity?at=" + when);
      at.push_back(cpu_us() - t);
    }
    print("GET /v1/capacity", plain);
    print("GET /v1/capacity?datacenter=dc2", per_dc);
    print("GET /v1/capacity?hsn_only=true", hsn);
    print("GET /v1/capacity?at=TIME (50 maintenance windows)", at);
    std::printf("  (%d answers not 200, %zu bytes answered)\n", not_ok, answered_bytes);
  }

  std::printf("\nscheduling decisions against %d machines and %d accepted reservations\n", machines,
              accepted);
  {
    std::vector<double> fixed, fixed_refused, dynamic, replace;
    int fixed_ok = 0, dyn_ok = 0;
    for (int i = 0; i < decisions; ++i) {
      const json body = random_request(true);
      double t = cpu_us();
      const auto d = sched.decide("new", body, time.now);
      const double us = cpu_us() - t;
      (d.accepted() ? fixed : fixed_refused).push_back(us);
      fixed_ok += d.accepted();

      const json dyn = random_request(false);
      t = cpu_us();
      const auto e = sched.decide("new-dyn", dyn, time.now);
      dynamic.push_back(cpu_us() - t);
      dyn_ok += e.accepted();

      const std::string existing = "r" + std::to_string(rng() % static_cast<unsigned>(accepted));
      if (auto s = sched.status_of(existing); s && s->accepted) {
        t = cpu_us();
        (void)sched.decide(existing, body, time.now, domain::write_mode::patch);
        replace.push_back(cpu_us() - t);
      }
    }
    if (!fixed.empty()) print("fixed window, accepted", fixed);
    if (!fixed_refused.empty()) print("fixed window, refused (with holders report)", fixed_refused);
    print("no start: earliest of 721 hourly starts", dynamic);
    if (!replace.empty()) print("replace of an accepted reservation (own claim lifted)", replace);
    std::printf("  accepted: fixed %d/%d, dynamic %d/%d\n", fixed_ok, decisions, dyn_ok, decisions);
  }

  std::printf("\nconflict rule, impact, usage\n");
  {
    std::vector<double> rerun;
    for (int i = 0; i < 3; ++i) {
      const double t = cpu_us();
      sched.rebuild();
      (void)sched.conflicted_count();
      rerun.push_back(cpu_us() - t);
    }
    print("rebuild + full run of the rule over all reservations", rerun);

    std::vector<double> append;
    for (int i = 0; i < 200; ++i) {
      const json body = random_request(true);
      const std::string id = "late" + std::to_string(i);
      const auto d = sched.decide(id, body, time.now);
      if (!d.accepted()) continue;
      const double t = cpu_us();
      put("reservation/" + id, d.body);
      (void)sched.status_of(id);
      append.push_back(cpu_us() - t);
    }
    if (!append.empty()) print("store write of an accepted reservation + its status", append);

    std::vector<double> hardware_change;
    for (int i = 0; i < 200; ++i) {
      const double t = cpu_us();
      const std::string key = "server/m" + std::to_string(2 * (rng() % static_cast<unsigned>(machines / 2)));
      if (store.find_alive(key) == nullptr) continue;
      const std::vector<crdt::field_write> f{{"status", i % 2 ? "\"up\"" : "\"down\""}};
      store.patch(key, f);
      (void)sched.status_of("r0");
      hardware_change.push_back(cpu_us() - t);
    }
    print("a server's status flips, then a status read", hardware_change);

    std::vector<double> impact;
    for (int i = 0; i < 20; ++i) {
      const std::int64_t s = t0 + static_cast<std::int64_t>(rng() % (60 * 24)) * hour_us;
      domain::maintenance_window w{s, s + 24 * hour_us, {"datacenter/dc" + std::to_string(i % dcs)}};
      const double t = cpu_us();
      const auto report = sched.impact_of(w);
      (void)sched.conflicted_count();  // includes putting the real statuses back
      impact.push_back(cpu_us() - t);
      if (i == 0)
        std::printf(
            "  (one dry run on a whole datacenter for a day: %zu reservations, %zu tenants impacted)\n",
            report.reservations.size(), report.tenants.size());
    }
    print("POST /v1/impact dry run (a datacenter for 24 h), incl. restore", impact);

    std::vector<double> usage;
    for (int i = 0; i < 5'000; ++i) {
      const double t = cpu_us();
      (void)sched.usage("t" + std::to_string(i % 100),
                        t0 + static_cast<std::int64_t>(rng() % (60 * 24)) * hour_us);
      usage.push_back(cpu_us() - t);
    }
    print("GET /v1/tenants/{id}/usage?at=", usage);
  }
  return 0;
}
