// metric_registry: series handles update the same series as the by-name
// calls, stay valid as other series are added, and render as they should.
#include <catch2/catch.hpp>
#include <string>

#include "horao/app/metrics.hpp"

using horao::app::metric_registry;
using horao::app::metric_type;

TEST_CASE("a counter handle and counter_add update one series") {
  metric_registry m;
  m.describe("requests_total", metric_type::counter, "requests");
  auto get = m.counter("requests_total", {{"route", "/a"}, {"status", "200"}});
  get.add();
  m.counter_add("requests_total", {{"route", "/a"}, {"status", "200"}}, 2);
  // Many other series later: the handle still points at its own.
  for (int i = 0; i < 1000; ++i)
    m.counter_add("requests_total", {{"route", "/b"}, {"status", std::to_string(i)}});
  get.add(0.5);
  CHECK(m.value("requests_total", {{"route", "/a"}, {"status", "200"}}) == 3.5);
  CHECK(m.value("requests_total", {{"route", "/b"}, {"status", "7"}}) == 1);
}

TEST_CASE("a histogram handle observes into the buckets the family declares") {
  metric_registry m;
  m.describe("latency_seconds", metric_type::histogram, "latency", {0.1, 1.0});
  auto h = m.histogram("latency_seconds", {{"route", "/a"}});
  h.observe(0.05);
  h.observe(0.5);
  m.histogram_observe("latency_seconds", {{"route", "/a"}}, 5);
  const std::string text = m.render();
  CHECK(text.find("latency_seconds_bucket{route=\"/a\",le=\"0.1\"} 1") != std::string::npos);
  CHECK(text.find("latency_seconds_bucket{route=\"/a\",le=\"1\"} 2") != std::string::npos);
  CHECK(text.find("latency_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3") != std::string::npos);
  CHECK(text.find("latency_seconds_count{route=\"/a\"} 3") != std::string::npos);
  CHECK(text.find("latency_seconds_sum{route=\"/a\"} 5.55") != std::string::npos);
}
