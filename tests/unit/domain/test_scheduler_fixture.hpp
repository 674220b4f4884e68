#pragma once
// Shared by test_capacity*.cpp, test_scheduler*.cpp and test_impact*.cpp: a
// store on a driven clock with the capacity index and the scheduler on top,
// and builders for the records they read.

#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "horao/crdt/clock.hpp"
#include "horao/domain/capacity.hpp"
#include "horao/domain/scheduler.hpp"
#include "horao/domain/schema.hpp"
#include "horao/store/record_store.hpp"

// Catch prints 128-bit quantities in failure messages.
namespace Catch {
template <>
struct StringMaker<horao::domain::quantity> {
  static std::string convert(horao::domain::quantity q) { return horao::domain::to_string(q); }
};
}  // namespace Catch

namespace horao::test {

using nlohmann::json;

inline constexpr std::int64_t hour_us = 3'600'000'000LL;
inline constexpr std::int64_t day_us = 24 * hour_us;
// 2026-12-01T00:00:00Z: every test counts hours from here.
inline constexpr std::int64_t t0 = 1'796'083'200'000'000LL;

inline std::int64_t at_hour(double h) {
  return t0 + static_cast<std::int64_t>(h * static_cast<double>(hour_us));
}
inline std::string time_text(double h) {
  return domain::canonical_time(at_hour(h));
}

struct driven_time : crdt::time_source {
  std::int64_t now = t0;
  std::int64_t now_us() const override { return now; }
};

inline std::vector<crdt::field_write> fields_of(const json& body) {
  std::vector<crdt::field_write> out;
  for (auto it = body.begin(); it != body.end(); ++it) out.push_back({it.key(), it.value().dump()});
  return out;
}

// One daemon (a replica): store, capacity index, scheduler. `node` names the HLC writer.
struct replica {
  explicit replica(std::string_view node = "dc-a",
                   domain::scheduler_settings settings = domain::scheduler_settings::from_config(30, 1))
      : clock(*crdt::node_names().intern(node), time),
        store(clock),
        capacity(std::make_unique<domain::capacity_index>(store)),
        scheduler(std::make_unique<domain::scheduler>(store, *capacity, settings)) {}

  void put(std::string_view key, const json& body) {
    const auto f = fields_of(body);
    store.put(key, f);
    time.now += 1;  // distinct wall times keep creation order readable in tests
  }
  void patch(std::string_view key, const json& body) {
    const auto f = fields_of(body);
    store.patch(key, f);
    time.now += 1;
  }
  void remove(std::string_view key) {
    store.remove(key);
    time.now += 1;
  }

  // Decides and, when accepted, writes like the router does.
  domain::decision reserve(std::string_view id, json body,
                           domain::write_mode mode = domain::write_mode::put) {
    domain::decision d = scheduler->decide(id, body, time.now, mode);
    if (d.accepted()) {
      const std::string key = "reservation/" + std::string(id);
      if (mode == domain::write_mode::put) {
        put(key, d.body);
      } else {
        // Like the router's merge patch: a member the new body lacks is removed.
        json writes = d.body;
        auto f = fields_of(writes);
        if (!writes.contains("end")) f.push_back({"end", ""});
        store.patch(key, f);
        time.now += 1;
      }
    }
    return d;
  }

  bool accepted(std::string_view id) {
    auto s = scheduler->status_of(id);
    return s && s->accepted;
  }

  driven_time time;
  crdt::hybrid_clock clock;
  store::record_store store;
  std::unique_ptr<domain::capacity_index> capacity;
  std::unique_ptr<domain::scheduler> scheduler;
};

// ---- record builders ----

inline json datacenter(int number = 0) {
  return {{"name", "dc"}, {"number", number}};
}
inline json cabinet(std::string_view dc) {
  return {{"datacenter", dc}, {"row", 1}, {"position", 1}};
}
inline json chassis(std::string_view cab) {
  return {{"cabinet", cab}, {"position", 1}};
}
inline json blade(std::string_view ch, std::string_view status = "up") {
  return {{"chassis", ch}, {"position", 1}, {"status", status}};
}

inline json machine_fields(int cores, int ram_gb, int accelerators, std::vector<std::string> networks = {},
                           std::string_view status = "up") {
  json m = {{"status", status},
            {"cpus", json::array({{{"cores", cores}}})},
            {"ram", json::array({{{"size_gb", ram_gb}}})}};
  json acc = json::array();
  for (int i = 0; i < accelerators; ++i) acc.push_back({{"model", "H100"}});
  m["accelerators"] = acc;
  if (!networks.empty()) m["networks"] = networks;
  return m;
}

inline json server(std::string_view cab, int cores, int ram_gb = 0, int accelerators = 0,
                   std::vector<std::string> networks = {}, std::string_view status = "up") {
  json s = machine_fields(cores, ram_gb, accelerators, std::move(networks), status);
  s["cabinet"] = cab;
  return s;
}

inline json node_in(std::string_view bl, int cores, int ram_gb = 0, int accelerators = 0,
                    std::vector<std::string> networks = {}, std::string_view status = "up") {
  json s = machine_fields(cores, ram_gb, accelerators, std::move(networks), status);
  s["blade"] = bl;
  return s;
}

inline json disk(std::string_view machine_key, double tb, std::string_view type = "block",
                 std::string_view status = "up") {
  return {{"machine", machine_key}, {"capacity_tb", tb}, {"storage_type", type}, {"status", status}};
}

inline json network(std::string_view dc, std::string_view type, bool hsn) {
  return {{"datacenter", dc}, {"network_type", type}, {"hsn", hsn}};
}

inline json maintenance(double from_h, double to_h, std::vector<std::string> targets) {
  return {{"start", time_text(from_h)}, {"end", time_text(to_h)}, {"reason", "test"}, {"targets", targets}};
}

inline json tenant(json constraints = nullptr) {
  json t = {{"owner", "someone"}};
  if (!constraints.is_null()) t["constraints"] = std::move(constraints);
  return t;
}

inline json compute(int cpu, int ram_gb = 0, bool accelerator = false, int amount = 1) {
  return {{"type", "compute"},
          {"cpu", cpu},
          {"ram_gb", ram_gb},
          {"accelerator", accelerator},
          {"amount", amount}};
}

inline json storage(double tb, std::string_view type = "block") {
  return {{"type", "storage"}, {"capacity_tb", tb}, {"storage_type", type}, {"storage_class", "hot"}};
}

// A reservation body; from_h/to_h < 0 leave start/end out.
inline json reservation(std::string_view tenant_id, json resources, double from_h, double to_h = -1,
                        bool hsn_only = false) {
  json r = {{"tenant", tenant_id}, {"resources", std::move(resources)}, {"hsn_only", hsn_only}};
  if (from_h >= 0) r["start"] = time_text(from_h);
  if (to_h >= 0) r["end"] = time_text(to_h);
  return r;
}

}  // namespace horao::test
