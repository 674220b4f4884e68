#pragma once
// A small Prometheus registry: counters, gauges and histograms with labels,
// rendered in the text exposition format (version 0.0.4).
//
// Invariants: a family's type and help are fixed by its first describe();
// series are created on first use; render() lists families by name and series
// by label text, so the output is stable. Scrape hooks run at the start of
// render() to refresh gauges that are cheaper to read than to track. Series
// are never removed: a handle (counter_series, histogram_series) stays valid
// as long as the registry, so a hot path looks its series up once.
// Single-threaded: used from the daemon's event loop only.

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace horao::app {

enum class metric_type { counter, gauge, histogram };

class metric_registry {
  struct series;

 public:
  using labels = std::vector<std::pair<std::string_view, std::string_view>>;

  // One counter series, looked up once (counter()).
  class counter_series {
   public:
    void add(double by = 1);

   private:
    friend class metric_registry;
    explicit counter_series(series* s) : series_(s) {}
    series* series_;
  };
  // One histogram series, looked up once (histogram()).
  class histogram_series {
   public:
    void observe(double value);

   private:
    friend class metric_registry;
    histogram_series(series* s, const std::vector<double>* bounds) : series_(s), bounds_(bounds) {}
    series* series_;
    const std::vector<double>* bounds_;
  };

  void describe(std::string_view name, metric_type type, std::string_view help,
                std::vector<double> buckets = {});
  void counter_add(std::string_view name, const labels& l = {}, double by = 1);
  void gauge_set(std::string_view name, const labels& l, double value);
  void gauge_set(std::string_view name, double value) { gauge_set(name, {}, value); }
  void histogram_observe(std::string_view name, const labels& l, double value);
  void on_scrape(std::function<void(metric_registry&)> hook);
  // The series of `name` with labels `l`, created if new: what counter_add()
  // and histogram_observe() update, without the lookup each time.
  counter_series counter(std::string_view name, const labels& l);
  histogram_series histogram(std::string_view name, const labels& l);

  // Current value of a counter or gauge series (0 when absent): for tests.
  double value(std::string_view name, const labels& l = {}) const;

  std::string render();

  // Default latency buckets, in seconds.
  static std::vector<double> latency_buckets();

 private:
  struct series {
    double value = 0;                    // counter or gauge
    std::vector<std::uint64_t> buckets;  // histogram, cumulative at render
    std::uint64_t count = 0;
    double sum = 0;
  };
  struct family {
    metric_type type = metric_type::counter;
    std::string help;
    std::vector<double> bounds;
    std::map<std::string, series, std::less<>> by_labels;
  };
  family& family_of(std::string_view name, metric_type type);
  series& series_of(family& f, const labels& l);
  static void append_label_text(std::string& out, const labels& l);
  static std::string label_text(const labels& l);

  std::map<std::string, family, std::less<>> families_;
  std::vector<std::function<void(metric_registry&)>> hooks_;
  std::string key_scratch_;  // label text of the series being looked up
};

}  // namespace horao::app
