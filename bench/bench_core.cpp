// Benchmarks of the CRDT core and the record store (issue 2, item 7).
//
// Prints figures and asserts nothing (DESIGN §9). Single-threaded, like the
// store in the daemon. Sections can be picked on the command line
// (`horao_bench_core memory merge`); the default runs them all, memory first,
// because resident memory is measured as a difference of VmRSS and heap freed
// by an earlier section would be reused and hide part of the cost.
//
// Environment: BENCH_RECORDS (default 1000000) scales every section.

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "bench_support.hpp"
#include "horao/crdt/clock.hpp"
#include "horao/crdt/digest.hpp"
#include "horao/crdt/record.hpp"
#include "horao/store/record_store.hpp"

using namespace horao;
using clock_type = std::chrono::steady_clock;

namespace {

// Keeps a value alive in the optimiser's eyes.
template <typename T>
void keep(const T& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}

// Both the elapsed time and the CPU time of this thread: on a shared machine
// the CPU time is the steadier figure (it does not count time spent waiting
// for a core), the elapsed time is what a user would see.
struct stopwatch {
  clock_type::time_point wall = clock_type::now();
  double cpu = cpu_seconds();
  static double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
  double wall_seconds() const { return std::chrono::duration<double>(clock_type::now() - wall).count(); }
  double cpu_seconds_since() const { return cpu_seconds() - cpu; }
};

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

long vm_rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

void report(const char* what, double value, const char* unit) {
  std::printf("%-58s %14.0f %-10s (loadavg %s)\n", what, value, unit, loadavg().c_str());
  std::fflush(stdout);
}

// A rate: operations per CPU second and per elapsed second.
void report_rate(const char* what, double operations, const stopwatch& sw, const char* unit) {
  const double cpu = sw.cpu_seconds_since();
  const double wall = sw.wall_seconds();
  std::printf("%-58s %12.0f %-10s cpu  %12.0f wall  (loadavg %s)\n", what, operations / cpu, unit,
              operations / wall, loadavg().c_str());
  std::fflush(stdout);
}

// A cost per operation in nanoseconds of CPU time.
void report_cost(const char* what, double operations, const stopwatch& sw) {
  std::printf("%-58s %12.0f ns/op cpu  %9.0f wall  (loadavg %s)\n", what,
              sw.cpu_seconds_since() * 1e9 / operations, sw.wall_seconds() * 1e9 / operations,
              loadavg().c_str());
  std::fflush(stdout);
}

// ---- server-like records: 15 fields, as domain/ would store them -------------

std::string json_text(std::string_view s) {
  return nlohmann::json(s).dump();
}

std::vector<crdt::field_write> server_fields(std::size_t i) {
  const std::size_t cab = i / 40;
  const std::string id = std::to_string(i);
  std::vector<crdt::field_write> f;
  f.reserve(15);
  f.push_back({"name", json_text("srv-" + id)});
  f.push_back({"cabinet", json_text("cab-r" + std::to_string(cab / 20) + "-" + std::to_string(cab % 20))});
  f.push_back({"status", i % 50 == 0 ? "\"down\"" : "\"up\""});
  f.push_back({"serial_number", json_text("SN" + std::to_string(100000000 + i * 7919 % 900000000))});
  f.push_back({"model", "\"PowerEdge R7625\""});
  f.push_back(
      {"cpus",
       R"([{"cores":64,"model":"EPYC 9554","clock_ghz":3.1},{"cores":64,"model":"EPYC 9554","clock_ghz":3.1}])"});
  f.push_back({"ram", R"([{"size_gb":256},{"size_gb":256}])"});
  f.push_back({"accelerators", i % 4 == 0 ? R"([{"model":"H100"},{"model":"H100"}])" : "[]"});
  f.push_back({"networks", R"(["net-mgmt-1","net-hsn-)" + std::to_string(i % 8) + "\"]"});
  f.push_back({"position", std::to_string(1 + i % 40)});
  f.push_back({"height_u", "2"});
  f.push_back({"power_watts", std::to_string(800 + i % 400)});
  f.push_back({"purchase_date", "\"2025-03-14\""});
  f.push_back({"owner", json_text("team-" + std::to_string(i % 97))});
  f.push_back({"hostname", json_text("srv-" + id + ".ams.example.net")});
  return f;
}

std::string server_key(std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "server/s-%07zu", i);
  return buf;
}

// The resource as GET /v1/servers/{id} answers it (API.md "Resources").
std::string api_json(std::string_view key, const store::stored_record& entry) {
  const auto [kind, id] = store::split_key(key);
  std::string out = "{\"kind\":" + json_text(kind) + ",\"id\":" + json_text(id);
  for (const auto& field : entry.state.fields()) {
    if (field.absent()) continue;
    out += ',';
    out += json_text(field.name_text());
    out += ':';
    out += field.value;
  }
  out += ",\"meta\":{\"created\":" + json_text(crdt::to_string(entry.state.created())) +
         ",\"updated\":" + json_text(crdt::to_string(entry.state.updated())) +
         ",\"seq\":" + std::to_string(entry.seq) + "}}";
  return out;
}

// ---- small records as a remote peer would send them ------------------------

struct remote_change {
  std::string key;
  crdt::record state;
};

// `count` states of small vm-like records (3 fields), written by `node` at
// increasing stamps starting at `wall`. A peer sends in its own sequence
// order, which has nothing to do with the order of ids, so the ids come in a
// random order (fixed seed); the states are built in that order, as a
// decoder would build them, so that reading them is not what is measured.
std::vector<remote_change> small_changes(std::size_t count, std::size_t first_id, crdt::node_id node,
                                         std::int64_t wall) {
  const auto host = *crdt::field_names().intern("host");
  const auto cpu = *crdt::field_names().intern("cpu");
  const auto ram = *crdt::field_names().intern("ram_gb");
  std::vector<std::size_t> ids(count);
  for (std::size_t i = 0; i < count; ++i) ids[i] = first_id + i;
  std::mt19937_64 rng(first_id + 1);
  std::shuffle(ids.begin(), ids.end(), rng);
  std::vector<remote_change> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const crdt::hlc t1{wall + static_cast<std::int64_t>(i), 0, node};
    const crdt::hlc t2{wall + static_cast<std::int64_t>(i), 1, node};
    std::vector<crdt::field_entry> fields;
    fields.push_back({t2, host, "\"server/s-" + std::to_string(ids[i] % 5000) + "\""});
    fields.push_back({t2, cpu, std::to_string(1 + ids[i] % 16)});
    fields.push_back({t2, ram, std::to_string(4 << (ids[i] % 5))});
    char key[32];
    std::snprintf(key, sizeof key, "vm/vm-%08zu", ids[i]);
    out.push_back({key, crdt::record(t2, t1, std::move(fields))});
  }
  return out;
}

constexpr std::int64_t bench_start_us = 1'790'000'000'000'000;  // 2026-09

std::size_t records_env() {
  if (const char* s = std::getenv("BENCH_RECORDS")) return std::strtoull(s, nullptr, 10);
  return 1'000'000;
}

// ---- sections -----------------------------------------------------------------

void bench_memory(std::size_t n) {
  std::printf("\n== resident memory, %zu server-like records (15 fields) ==\n", n);
  crdt::system_time_source time;
  crdt::hybrid_clock clock(*crdt::node_names().intern("dc-ams"), time);
  store::record_store store(clock);
  // Intern names and warm up allocator arenas outside the measurement.
  (void)server_fields(0);
  const long before = vm_rss_kib();
  for (std::size_t i = 0; i < n; ++i) store.put(server_key(i), server_fields(i));
  // Steady state: a listing has sorted the records into the per-kind index.
  store.for_each_alive("server", "", [](std::string_view, const store::stored_record&) { return false; });
  const long after = vm_rss_kib();
  std::size_t json_bytes = 0;
  std::size_t value_bytes = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string key = server_key(i);
    const auto* entry = store.find(key);
    json_bytes += api_json(key, *entry).size();
    for (const auto& f : entry->state.fields()) value_bytes += f.value.size();
  }
  const double rss_bytes = static_cast<double>(after - before) * 1024.0;
  std::printf("VmRSS before %ld KiB, after %ld KiB\n", before, after);
  report("resident memory growth per record", rss_bytes / n, "bytes");
  report("compact API JSON per record (kind, id, fields, meta)", static_cast<double>(json_bytes) / n,
         "bytes");
  report("field values alone per record", static_cast<double>(value_bytes) / n, "bytes");
  std::printf("%-58s %14.2f x\n", "ratio resident / compact API JSON",
              rss_bytes / static_cast<double>(json_bytes));
  std::printf("example: %s\n", api_json(server_key(1), *store.find(server_key(1))).c_str());
}

void bench_local_writes(std::size_t n) {
  std::printf("\n== local writes: put of %zu server-like records ==\n", n);
  crdt::system_time_source time;
  crdt::hybrid_clock clock(*crdt::node_names().intern("dc-ams"), time);
  store::record_store store(clock);
  // Bodies are built before timing: the figure is the store's cost, not the
  // cost of making up test data.
  std::vector<std::vector<crdt::field_write>> bodies;
  std::vector<std::string> keys;
  bodies.reserve(n);
  keys.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    bodies.push_back(server_fields(i));
    keys.push_back(server_key(i));
  }
  stopwatch sw;
  for (std::size_t i = 0; i < n; ++i) store.put(keys[i], bodies[i]);
  report_rate("put, new keys (create)", n, sw, "puts/s");
  sw = stopwatch{};
  for (std::size_t i = 0; i < n; ++i) store.put(keys[i], bodies[i]);
  report_rate("put, existing keys (replace)", n, sw, "puts/s");
  const std::vector<crdt::field_write> patch{{"status", "\"down\""}};
  sw = stopwatch{};
  for (std::size_t i = 0; i < n; ++i) store.patch(keys[i], patch);
  report_rate("patch of one field", n, sw, "patches/s");
}

void bench_merges(std::size_t n) {
  std::printf("\n== merges of small remote records (3 fields), %zu per run ==\n", n);
  bench::manual_time time(bench_start_us);
  crdt::hybrid_clock clock(*crdt::node_names().intern("dc-ams"), time);
  store::record_store store(clock);
  const auto peer = *crdt::node_names().intern("dc-fra");

  auto first = small_changes(n, 0, peer, time.now - 10'000'000);
  stopwatch sw;
  for (const auto& c : first) store.merge(c.key, c.state, peer);
  report_rate("merge into an empty store (new keys)", n, sw, "merges/s");

  // The store now holds n records.
  auto newer = small_changes(n, 0, peer, time.now - 5'000'000);
  sw = stopwatch{};
  for (const auto& c : newer) store.merge(c.key, c.state, peer);
  report_rate("merge, newer states of existing keys (store holds n)", n, sw, "merges/s");

  sw = stopwatch{};
  for (const auto& c : newer) store.merge(c.key, c.state, peer);
  report_rate("merge, duplicates (unchanged, store holds n)", n, sw, "merges/s");

  first.clear();
  first.shrink_to_fit();
  auto fresh = small_changes(n, n, peer, time.now - 1'000'000);
  sw = stopwatch{};
  for (const auto& c : fresh) store.merge(c.key, c.state, peer);
  report_rate("merge, new keys into a store holding n", n, sw, "merges/s");

  // Change-log scan over everything (2n live entries).
  sw = stopwatch{};
  std::size_t seen = 0;
  std::size_t bytes = 0;
  store.changes_since(0, [&](std::uint64_t, std::string_view key, const store::stored_record& e) {
    ++seen;
    bytes += key.size() + e.state.fields().size();
    return true;
  });
  keep(bytes);
  report_rate("changes_since(0) over the whole log", seen, sw, "records/s");

  // Listings: the first one sorts the records that came alive since the
  // last listing into the per-kind index (deferred from the merges above),
  // the second one is a plain ordered scan; then pages of 100 from cursors.
  for (const char* what :
       {"first for_each_alive after the merges (sorts them in)", "for_each_alive over one kind"}) {
    sw = stopwatch{};
    std::size_t listed = 0;
    store.for_each_alive("vm", "", [&](std::string_view id, const store::stored_record&) {
      ++listed;
      bytes += id.size();
      return true;
    });
    keep(bytes);
    report_rate(what, listed, sw, "records/s");
  }
  std::mt19937_64 rng(7);
  constexpr int pages = 100'000;
  sw = stopwatch{};
  for (int p = 0; p < pages; ++p) {
    char after[32];
    std::snprintf(after, sizeof after, "vm-%08zu", static_cast<std::size_t>(rng() % (2 * n)));
    int left = 100;
    store.for_each_alive("vm", after, [&](std::string_view id, const store::stored_record&) {
      bytes += id.size();
      return --left > 0;
    });
  }
  keep(bytes);
  report_rate("page of 100 ids from a random cursor", pages, sw, "pages/s");
}

void bench_digest(std::size_t n) {
  std::printf("\n== digest maintenance ==\n");
  const auto node = *crdt::node_names().intern("dc-fra");
  const auto small = small_changes(std::min<std::size_t>(n, 100'000), 0, node, 1'790'000'000'000'000);
  crdt::hash128 sum;
  constexpr int rounds = 10;
  stopwatch sw;
  for (int r = 0; r < rounds; ++r)
    for (const auto& c : small) sum += crdt::hash_record(c.key, c.state);
  keep(sum);
  report_cost("hash_record of a small record (3 fields)", static_cast<double>(rounds * small.size()), sw);

  bench::manual_time time(bench_start_us);
  crdt::hybrid_clock clock(*crdt::node_names().intern("dc-ams"), time);
  store::record_store store(clock);
  const std::size_t servers = std::min<std::size_t>(n, 100'000);
  for (std::size_t i = 0; i < servers; ++i) store.put(server_key(i), server_fields(i));
  std::vector<std::pair<std::string, const crdt::record*>> records;
  for (std::size_t i = 0; i < servers; ++i)
    records.emplace_back(server_key(i), &store.find(server_key(i))->state);
  sw = stopwatch{};
  for (int r = 0; r < rounds; ++r)
    for (const auto& [key, state] : records) sum += crdt::hash_record(key, *state);
  keep(sum);
  report_cost("hash_record of a server-like record (15 fields)", static_cast<double>(rounds * records.size()),
              sw);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = records_env();
  std::vector<std::string> sections(argv + 1, argv + argc);
  if (sections.empty()) sections = {"memory", "writes", "merge", "digest"};
  std::printf("horao_bench_core: %zu records, loadavg at start %s\n", n, loadavg().c_str());
  for (const auto& s : sections) {
    if (s == "memory")
      bench_memory(n);
    else if (s == "writes")
      bench_local_writes(std::min<std::size_t>(n, 200'000));
    else if (s == "merge")
      bench_merges(n);
    else if (s == "digest")
      bench_digest(n);
    else {
      std::fprintf(stderr, "unknown section '%s' (memory, writes, merge, digest)\n", s.c_str());
      return 2;
    }
  }
  return 0;
}
