// A small thread-safe metrics registry rendered in the Prometheus text
// exposition format (version 0.0.4).
//
// Usage: register each metric family once at start-up, resolve every labelled
// series the hot path needs to a handle once, then update the handle:
//
//   MetricsRegistry registry;
//   auto commands = registry.counter("dc_commands_total", "Commands handled", {"outcome", "path"});
//   Counter& executed_via_broker = commands.value()->with({"executed", "broker"});
//   executed_via_broker.inc();  // one relaxed atomic add: no lock, no allocation
//
// Thread safety: every member of every class here is safe to call from any
// thread without external synchronization. Handles (Counter&, Gauge&,
// Histogram&, the family pointers) stay valid for the registry's lifetime;
// series are never removed.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace dc {

// Upper bounds (seconds) for command latency histograms; +Inf is implicit.
inline constexpr double kLatencyBucketsSeconds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1,    0.25,  0.5,    1,     2.5,  5,     10};

// A monotonically increasing count. inc() is one relaxed atomic add.
class Counter {
 public:
  void inc(uint64_t amount = 1) { value_.fetch_add(amount, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down. set()/add() are lock-free atomics.
class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Counts observations into fixed buckets. observe() is a binary search over
// the bounds plus two relaxed atomic updates; no lock, no allocation.
class Histogram {
 public:
  // `upper_bounds` strictly ascending and finite (checked by the registry).
  explicit Histogram(std::span<const double> upper_bounds);

  // Records `value` in the first bucket whose upper bound is >= value (the
  // implicit +Inf bucket if none). NaN is ignored: it would poison _sum.
  void observe(double value);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  // Cumulative bucket counts as Prometheus expects them. `count` is derived
  // from the buckets, so _count always equals the +Inf bucket even while
  // other threads observe; _sum may lag by the observations in flight.
  Snapshot snapshot() const;
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, not cumulative; size bounds + 1
  std::atomic<double> sum_{0.0};
};

// A named metric with a fixed list of label names and one series per
// distinct list of label values. `Series` is Counter, Gauge or Histogram.
template <class Series>
class MetricFamily {
 public:
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Returns the series for `label_values`, given in the order of
  // label_names(), creating it (starting at zero) on first use. Takes a lock
  // and may allocate: call it once and keep the reference for hot paths.
  // Precondition: label_values.size() == label_names().size(). Debug builds
  // assert; release builds pad missing values with "" and drop extra ones.
  Series& with(std::initializer_list<std::string_view> label_values) {
    return with(std::span<const std::string_view>(label_values.begin(), label_values.size()));
  }
  Series& with(std::span<const std::string_view> label_values);
  // The single series of a family without labels.
  Series& with() { return with(std::span<const std::string_view>()); }

  // Visits every series, ordered by label values, under the family lock.
  template <class Visit>
  void for_each(Visit&& visit) const {
    std::lock_guard lock(mutex_);
    for (const auto& [values, series] : series_) visit(values, *series);
  }

 protected:
  friend class MetricsRegistry;
  MetricFamily(std::string name, std::string help, std::vector<std::string> label_names,
               std::vector<double> upper_bounds);

  // Finds or creates the series for `values`; requires mutex_ held.
  Series& find_or_create_locked(std::vector<std::string> values);

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::vector<double> upper_bounds_;  // histograms only
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>> series_;
};

using CounterFamily = MetricFamily<Counter>;
using HistogramFamily = MetricFamily<Histogram>;

// Gauges add whole-set updates for state-like metrics such as dc_apps{status}
// and dc_mode{mode}.
class GaugeFamily : public MetricFamily<Gauge> {
 public:
  // For a family with exactly one label: sets the series of each listed label
  // value to its number and every other existing series to 0, under the
  // family lock, so a concurrent render() sees the whole update or none of
  // it. Example: apps->set_all({{"RUNNING", 3}, {"STOPPED", 1}}) leaves a
  // previously seen FAILED series at 0 rather than stale.
  void set_all(std::span<const std::pair<std::string_view, double>> values);
  void set_all(std::initializer_list<std::pair<std::string_view, double>> values) {
    set_all(std::span<const std::pair<std::string_view, double>>(values.begin(), values.size()));
  }

  // For a family with exactly one label: sets the series `active` to 1 and
  // every other existing series to 0 (a one-hot state such as dc_mode).
  void set_exclusive(std::string_view active);

 private:
  friend class MetricsRegistry;
  GaugeFamily(std::string name, std::string help, std::vector<std::string> label_names,
              std::vector<double> upper_bounds)
      : MetricFamily<Gauge>(std::move(name), std::move(help), std::move(label_names), std::move(upper_bounds)) {}
};

// One series of a family rendered from a snapshot at scrape time (see
// MetricsRegistry::add_collector): label values in the order of the
// family's label names, and the value.
struct Sample {
  std::vector<std::string> label_values;
  double value = 0;
};

// Appends a whole family in the exposition format: "# HELP", "# TYPE"
// (`type` is "counter" or "gauge"), then one line per sample, with the same
// escaping as render(). For families whose series come and go with a
// snapshot (one per app) or are read at scrape time (/proc); the caller
// passes valid names (as the registry checks them).
void append_family(std::string& out, std::string_view name, std::string_view type, std::string_view help,
                   const std::vector<std::string>& label_names, std::span<const Sample> samples);

// Owns the metric families and renders them. Families render in
// registration order; within a family, series are ordered by label values.
class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Registers a family, or returns the existing one if a family with the same
  // name, type, label names (and bounds) already exists. A family with no
  // labels gets its single series at once, so it renders as 0 before the
  // first update.
  // Errors (Errc::invalid_argument): a name that is not a valid Prometheus
  // metric name, an invalid/duplicate/reserved ("__*", "le" on histograms)
  // label name, histogram bounds that are empty, non-finite or not strictly
  // ascending. Errc::conflict: the name is taken by a different definition.
  Result<CounterFamily*> counter(std::string_view name, std::string_view help,
                                 std::initializer_list<std::string_view> label_names = {});
  Result<GaugeFamily*> gauge(std::string_view name, std::string_view help,
                             std::initializer_list<std::string_view> label_names = {});
  Result<HistogramFamily*> histogram(std::string_view name, std::string_view help,
                                     std::initializer_list<std::string_view> label_names = {},
                                     std::span<const double> upper_bounds = kLatencyBucketsSeconds);

  // The exposition text: for each family a "# HELP" and a "# TYPE" line, then
  // one sample line per series (histograms: _bucket per bound and +Inf, _sum,
  // _count). HELP text escapes \ and newline; label values escape \, " and
  // newline. Ends with a newline. Safe to call while other threads update.
  std::string render() const;

  // Adds a function render() calls after the families, to append families
  // computed at scrape time (append_family). Collectors run in the order
  // added, on the thread calling render(), with no lock of the registry's
  // held: each must be thread-safe itself.
  void add_collector(std::function<void(std::string&)> collect);

 private:
  struct Entry;
  // Renders the families into `out` under the lock; returns the collectors
  // to run after it is released.
  std::vector<std::shared_ptr<const std::function<void(std::string&)>>> render_families(std::string& out) const;
  template <class Family>
  Result<Family*> add(std::string_view type, std::string_view name, std::string_view help,
                      std::initializer_list<std::string_view> label_names, std::span<const double> upper_bounds);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Entry>> families_;  // registration order
  std::vector<std::shared_ptr<const std::function<void(std::string&)>>> collectors_;
};

// The content type to serve render() with.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace dc
