#include "horao/app/metrics.hpp"

#include <cmath>
#include <cstdio>

namespace horao::app {
namespace {

void append_escaped(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

std::string format_number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[32];
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

const char* type_name(metric_type t) {
  switch (t) {
    case metric_type::counter:
      return "counter";
    case metric_type::gauge:
      return "gauge";
    case metric_type::histogram:
      return "histogram";
  }
  return "untyped";
}

// Inserts an extra label into rendered label text: {a="b"} + le -> {a="b",le="x"}.
std::string with_label(const std::string& text, std::string_view name, std::string_view value) {
  std::string extra(name);
  extra += "=\"";
  append_escaped(extra, value);
  extra += '"';
  if (text.empty()) return "{" + extra + "}";
  return text.substr(0, text.size() - 1) + "," + extra + "}";
}

}  // namespace

std::vector<double> metric_registry::latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

void metric_registry::describe(std::string_view name, metric_type type, std::string_view help,
                               std::vector<double> buckets) {
  auto it = families_.find(name);
  if (it != families_.end()) return;
  family f;
  f.type = type;
  f.help = std::string(help);
  f.bounds = type == metric_type::histogram && buckets.empty() ? latency_buckets() : std::move(buckets);
  families_.emplace(std::string(name), std::move(f));
}

metric_registry::family& metric_registry::family_of(std::string_view name, metric_type type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    describe(name, type, "");
    it = families_.find(name);
  }
  return it->second;
}

void metric_registry::append_label_text(std::string& out, const labels& l) {
  if (l.empty()) return;
  out += '{';
  for (std::size_t i = 0; i < l.size(); ++i) {
    if (i) out += ',';
    out += l[i].first;
    out += "=\"";
    append_escaped(out, l[i].second);
    out += '"';
  }
  out += '}';
}

std::string metric_registry::label_text(const labels& l) {
  std::string out;
  append_label_text(out, l);
  return out;
}

metric_registry::series& metric_registry::series_of(family& f, const labels& l) {
  // Every request counts twice: the key is rendered into a reused buffer and
  // copied only when the series is new.
  key_scratch_.clear();
  append_label_text(key_scratch_, l);
  auto it = f.by_labels.find(std::string_view(key_scratch_));
  if (it == f.by_labels.end()) it = f.by_labels.emplace(key_scratch_, series{}).first;
  return it->second;
}

void metric_registry::counter_add(std::string_view name, const labels& l, double by) {
  series_of(family_of(name, metric_type::counter), l).value += by;
}

void metric_registry::gauge_set(std::string_view name, const labels& l, double value) {
  auto& f = family_of(name, metric_type::gauge);
  f.by_labels[label_text(l)].value = value;
}

metric_registry::counter_series metric_registry::counter(std::string_view name, const labels& l) {
  return counter_series(&series_of(family_of(name, metric_type::counter), l));
}

metric_registry::histogram_series metric_registry::histogram(std::string_view name, const labels& l) {
  auto& f = family_of(name, metric_type::histogram);
  auto& s = series_of(f, l);
  if (s.buckets.empty()) s.buckets.assign(f.bounds.size(), 0);
  return histogram_series(&s, &f.bounds);
}

void metric_registry::counter_series::add(double by) {
  series_->value += by;
}

void metric_registry::histogram_series::observe(double value) {
  const std::vector<double>& bounds = *bounds_;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (value <= bounds[i]) {
      ++series_->buckets[i];
      break;
    }
  }
  ++series_->count;
  series_->sum += value;
}

void metric_registry::histogram_observe(std::string_view name, const labels& l, double value) {
  histogram(name, l).observe(value);
}

void metric_registry::on_scrape(std::function<void(metric_registry&)> hook) {
  hooks_.push_back(std::move(hook));
}

double metric_registry::value(std::string_view name, const labels& l) const {
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto s = it->second.by_labels.find(label_text(l));
  return s == it->second.by_labels.end() ? 0 : s->second.value;
}

std::string metric_registry::render() {
  for (auto& hook : hooks_) hook(*this);
  std::string out;
  out.reserve(4096);
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + (f.help.empty() ? name : f.help) + "\n";
    out += "# TYPE " + name + " " + type_name(f.type) + "\n";
    for (const auto& [labels, s] : f.by_labels) {
      if (f.type != metric_type::histogram) {
        out += name + labels + " " + format_number(s.value) + "\n";
        continue;
      }
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < f.bounds.size(); ++i) {
        cumulative += i < s.buckets.size() ? s.buckets[i] : 0;
        out += name + "_bucket" + with_label(labels, "le", format_number(f.bounds[i])) + " " +
               std::to_string(cumulative) + "\n";
      }
      out += name + "_bucket" + with_label(labels, "le", "+Inf") + " " + std::to_string(s.count) + "\n";
      out += name + "_sum" + labels + " " + format_number(s.sum) + "\n";
      out += name + "_count" + labels + " " + std::to_string(s.count) + "\n";
    }
  }
  return out;
}

}  // namespace horao::app
