// The demand timeline against a brute-force list of claims.
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <catch2/catch.hpp>

#include "horao/domain/maintenance_calendar.hpp"
#include "horao/domain/timeline.hpp"
#include "test_scheduler_fixture.hpp"

using namespace horao;
using domain::dimension;
using domain::pools;

namespace {

struct claim {
  std::int64_t start;
  std::int64_t end;
  pools amount;
};

pools make(int cpu, int hsn_cpu, int tb) {
  pools p;
  p.total[dimension::cpu] = cpu;
  p.total[dimension::block_tb] = tb;
  p.hsn[dimension::cpu] = hsn_cpu;
  return p;
}

pools brute_at(const std::vector<claim>& claims, std::int64_t t) {
  pools sum;
  for (const auto& c : claims)
    if (c.start <= t && t < c.end) sum += c.amount;
  return sum;
}

pools brute_peak(const std::vector<claim>& claims, std::int64_t from, std::int64_t to) {
  pools best = brute_at(claims, from);
  for (const auto& c : claims) {
    if (c.start > from && c.start < to) best = domain::max_of(best, brute_at(claims, c.start));
    if (c.end > from && c.end < to) best = domain::max_of(best, brute_at(claims, c.end));
  }
  return best;
}

}  // namespace

TEST_CASE("timeline: touching windows do not overlap and open ends hold forever") {
  domain::demand_timeline t;
  t.add(0, 10, make(5, 0, 0));
  t.add(10, 20, make(7, 0, 0));
  t.add(15, domain::time_max, make(1, 1, 0));
  CHECK(t.at(-1).total[dimension::cpu] == 0);
  CHECK(t.at(9).total[dimension::cpu] == 5);
  CHECK(t.at(10).total[dimension::cpu] == 7);
  CHECK(t.peak(0, 10).total[dimension::cpu] == 5);
  CHECK(t.peak(0, 11).total[dimension::cpu] == 7);
  CHECK(t.peak(16, domain::time_max).total[dimension::cpu] == 8);
  CHECK(t.peak(1'000'000, domain::time_max).total[dimension::cpu] == 1);
  CHECK(t.peak(1'000'000, domain::time_max).hsn[dimension::cpu] == 1);
  t.remove(10, 20, make(7, 0, 0));
  CHECK(t.peak(0, 100).total[dimension::cpu] == 5);
  t.remove(0, 10, make(5, 0, 0));
  t.remove(15, domain::time_max, make(1, 1, 0));
  CHECK(t.boundary_count() == 0);
}

TEST_CASE("timeline: at() and peak() equal brute force under random adds and removes") {
  rc::prop("timeline == brute force", [](const std::vector<std::tuple<int, int, int, int, bool>>& ops,
                                         const std::vector<std::pair<int, int>>& queries) {
    domain::demand_timeline t;
    std::vector<claim> claims;
    for (const auto& [a, len, cpu, tb, remove] : ops) {
      if (remove && !claims.empty()) {
        const std::size_t i = static_cast<std::size_t>(std::abs(a)) % claims.size();
        t.remove(claims[i].start, claims[i].end, claims[i].amount);
        claims.erase(claims.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      const std::int64_t start = a % 50;
      // Length 0 mod 7 is open-ended.
      const std::int64_t end = std::abs(len) % 7 == 0 ? domain::time_max : start + 1 + std::abs(len) % 30;
      claims.push_back({start, end, make(cpu % 100, (cpu / 2) % 50, tb % 1000)});
      t.add(claims.back().start, claims.back().end, claims.back().amount);
    }
    for (const auto& [a, len] : queries) {
      const std::int64_t from = a % 60 - 5;
      const std::int64_t to = len % 3 == 0 ? domain::time_max : from + 1 + std::abs(len) % 40;
      RC_ASSERT(t.at(from) == brute_at(claims, from));
      RC_ASSERT(t.peak(from, to) == brute_peak(claims, from, to));
    }
    RC_ASSERT(t.boundary_count() <= 2 * claims.size());
  });
}
