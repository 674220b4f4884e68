#pragma once
// Helpers shared by the in-process benchmarks: a clock the benchmark sets,
// field writes from a JSON body, and wall-clock milliseconds.

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "horao/crdt/clock.hpp"
#include "horao/crdt/record.hpp"

namespace horao::bench {

using clock_type = std::chrono::steady_clock;

// A time source that says what the benchmark sets, so runs are repeatable.
struct manual_time final : crdt::time_source {
  explicit manual_time(std::int64_t start_us) : now(start_us) {}
  std::int64_t now;
  std::int64_t now_us() const override { return now; }
};

// One write per member of `body`, each value as compact JSON text.
inline std::vector<crdt::field_write> fields_of(const nlohmann::json& body) {
  std::vector<crdt::field_write> out;
  for (auto it = body.begin(); it != body.end(); ++it) out.push_back({it.key(), it.value().dump()});
  return out;
}

inline double ms_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
}

}  // namespace horao::bench
