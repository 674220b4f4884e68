// Domain index rebuild after recovery (issue 4, goals b and c): fills a
// record_store with a realistic inventory (datacenters, cabinets, servers
// shaped like bench/persist_bench.py's, some disks, networks, tenants and
// VMs), then times relation_index and capacity_index construction (which
// rebuilds from scratch) and reports the heap each index holds
// (mallinfo2().uordblks before and after, and hblkhd beside it). Measures and prints; asserts
// nothing (DESIGN §9).
//
//   horao_bench_indexes [servers=1000000] [rounds=2]

#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "horao/crdt/clock.hpp"
#include "horao/domain/capacity.hpp"
#include "horao/domain/relations.hpp"
#include "horao/store/record_store.hpp"

using namespace horao;
using bench::clock_type;
using bench::fields_of;
using bench::ms_since;
using nlohmann::json;

namespace {

double heap_mib() {
  return static_cast<double>(mallinfo2().uordblks) / (1024.0 * 1024.0);
}

// Large blocks malloc maps on its own (above its mmap threshold): not in
// uordblks, so printed beside it.
double mapped_mib() {
  return static_cast<double>(mallinfo2().hblkhd) / (1024.0 * 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
  const int servers = argc > 1 ? std::atoi(argv[1]) : 1'000'000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 2;
  bench::manual_time time(1'700'000'000'000'000);
  crdt::hybrid_clock hlc(*crdt::node_names().intern("bench"), time);
  store::record_store store(hlc);
  auto put = [&](const std::string& key, const json& body) {
    const auto f = fields_of(body);
    store.put(key, f);
  };

  const auto fill_start = clock_type::now();
  const double heap0 = heap_mib();
  const int dcs = 10, cabinets = 1000, tenants = 100;
  for (int d = 0; d < dcs; ++d) {
    put("datacenter/dc" + std::to_string(d), {{"name", "dc"}, {"number", d}});
    put("network/hsn" + std::to_string(d),
        {{"datacenter", "dc" + std::to_string(d)}, {"network_type", "data"}, {"hsn", true}});
  }
  for (int c = 0; c < cabinets; ++c)
    put("cabinet/cab-" + std::to_string(c), {{"datacenter", "dc" + std::to_string(c % dcs)}, {"row", 1}});
  for (int t = 0; t < tenants; ++t) put("tenant/t" + std::to_string(t), {{"owner", "bench"}});
  char id[32];
  for (int i = 0; i < servers; ++i) {
    std::snprintf(id, sizeof id, "srv-%07d", i);
    json m = {{"cabinet", "cab-" + std::to_string(i % cabinets)},
              {"serial_number", std::string("SN") + id},
              {"model", "R760"},
              {"status", "up"},
              {"cpus", json::array({{{"cores", 64}, {"model", "EPYC 9554"}, {"clock_ghz", 3.1}},
                                    {{"cores", 64}, {"model", "EPYC 9554"}, {"clock_ghz", 3.1}}})},
              {"ram", json::array({{{"size_gb", 64}},
                                   {{"size_gb", 64}},
                                   {{"size_gb", 64}},
                                   {{"size_gb", 64}},
                                   {{"size_gb", 64}},
                                   {{"size_gb", 64}},
                                   {{"size_gb", 64}},
                                   {{"size_gb", 64}}})},
              {"accelerators", i % 4 == 0 ? json::array({{{"model", "H100"}}}) : json::array()}};
    if (i % 10 == 0) m["networks"] = json::array({"hsn" + std::to_string(i % dcs)});
    put(std::string("server/") + id, m);
    if (i % 20 == 0)
      put(std::string("disk/") + id + "-d0",
          {{"machine", std::string("server/") + id}, {"capacity_tb", 7.68}, {"storage_type", "block"}});
    if (i % 20 == 1)
      put(std::string("vm/") + id + "-vm0", {{"host", std::string("server/") + id},
                                             {"tenant", "t" + std::to_string(i % tenants)},
                                             {"cpu", 8},
                                             {"ram_gb", 32}});
  }
  std::printf("filled %zu records in %.0f ms, store heap %.0f MiB\n", store.size(), ms_since(fill_start),
              heap_mib() - heap0);

  for (int r = 0; r < rounds; ++r) {
    double h = heap_mib();
    auto t = clock_type::now();
    auto relations = std::make_unique<domain::relation_index>(store);
    const double rel_ms = ms_since(t);
    const double rel_mib = heap_mib() - h;
    h = heap_mib();
    const double mapped = mapped_mib();
    t = clock_type::now();
    auto capacity = std::make_unique<domain::capacity_index>(store);
    const double cap_ms = ms_since(t);
    const double cap_mib = heap_mib() - h;
    const double cap_mapped_mib = mapped_mib() - mapped;
    std::printf(
        "round %d: relation_index rebuild %8.0f ms  heap %6.0f MiB | capacity_index rebuild %8.0f ms  "
        "heap %6.0f MiB | children(cabinet/cab-0) %zu, cpu %s\n",
        r, rel_ms, rel_mib, cap_ms, cap_mib, relations->child_count("cabinet/cab-0"),
        domain::to_string(capacity->capacity({}).q[0]).c_str());
    std::printf(
        "         capacity: %zu nodes of %zu bytes; heap + mapped %.0f + %.0f MiB, %.0f bytes per node\n",
        capacity->hardware().node_count(), sizeof(domain::topology::node), cap_mib, cap_mapped_mib,
        (cap_mib + cap_mapped_mib) * 1024 * 1024 / static_cast<double>(capacity->hardware().node_count()));
  }
}
