#include "observe/metrics.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <set>
#include <type_traits>
#include <variant>

namespace dc {

namespace {

bool is_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

bool is_label_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

// Prometheus float syntax: a decimal, NaN, +Inf or -Inf.
void append_double(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    // Whole numbers (byte counts, seconds since the epoch) in full, as
    // client libraries print them: "8388608", not "8.388608e+06".
    char buf[24];
    const auto result = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(value));
    out.append(buf, result.ptr);
  } else {
    // Shortest round-trip digits in %g style, so 0.0005 stays "0.0005"
    // rather than "5e-04" (bucket bounds are read by people too).
    char buf[32];
    const auto result = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::general);
    out.append(buf, result.ptr);
  }
}

void append_uint(std::string& out, uint64_t value) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, result.ptr);
}

void append_escaped(std::string& out, std::string_view text, bool escape_quote) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// Appends `{a="x",b="y"}`, plus `le` last when given; nothing when empty.
void append_labels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                   const std::string* le = nullptr) {
  if (names.empty() && le == nullptr) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    append_escaped(out, values[i], true);
    out += '"';
  }
  if (le != nullptr) {
    if (!first) out += ',';
    out += "le=\"";
    out += *le;
    out += '"';
  }
  out += '}';
}

void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   const std::vector<std::string>& names, const std::vector<std::string>& values,
                   const std::string* le = nullptr) {
  out += name;
  out += suffix;
  append_labels(out, names, values, le);
  out += ' ';
}

}  // namespace

void append_family(std::string& out, std::string_view name, std::string_view type, std::string_view help,
                   const std::vector<std::string>& label_names, std::span<const Sample> samples) {
  out += "# HELP ";
  out += name;
  out += ' ';
  append_escaped(out, help, false);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
  for (const Sample& sample : samples) {
    assert(sample.label_values.size() == label_names.size() && "one label value per label name");
    if (sample.label_values.size() != label_names.size()) continue;
    append_sample(out, name, "", label_names, sample.label_values);
    append_double(out, sample.value);
    out += '\n';
  }
}

// ---- Histogram -------------------------------------------------------------

Histogram::Histogram(std::span<const double> upper_bounds)
    : upper_bounds_(upper_bounds.begin(), upper_bounds.end()),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(upper_bounds.size() + 1)) {
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  if (std::isnan(value)) return;
  // First bound >= value; end() means the +Inf bucket at index size().
  const auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  const auto index = static_cast<size_t>(it - upper_bounds_.begin());
  counts_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snap;
  snap.cumulative.reserve(upper_bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    snap.cumulative.push_back(running);
  }
  snap.count = running;
  snap.sum = sum_.load(std::memory_order_relaxed);
  return snap;
}

// ---- MetricFamily ----------------------------------------------------------

template <class Series>
MetricFamily<Series>::MetricFamily(std::string name, std::string help, std::vector<std::string> label_names,
                                   std::vector<double> upper_bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      upper_bounds_(std::move(upper_bounds)) {}

template <class Series>
Series& MetricFamily<Series>::find_or_create_locked(std::vector<std::string> values) {
  auto it = series_.find(values);
  if (it == series_.end()) {
    std::unique_ptr<Series> series;
    if constexpr (std::is_same_v<Series, Histogram>) {
      series = std::make_unique<Histogram>(upper_bounds_);
    } else {
      series = std::make_unique<Series>();
    }
    it = series_.emplace(std::move(values), std::move(series)).first;
  }
  return *it->second;
}

template <class Series>
Series& MetricFamily<Series>::with(std::span<const std::string_view> label_values) {
  assert(label_values.size() == label_names_.size() && "label value count must match the family's label names");
  std::vector<std::string> values(label_names_.size());
  for (size_t i = 0; i < values.size() && i < label_values.size(); ++i) values[i] = label_values[i];
  std::lock_guard lock(mutex_);
  return find_or_create_locked(std::move(values));
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

// ---- GaugeFamily -----------------------------------------------------------

void GaugeFamily::set_all(std::span<const std::pair<std::string_view, double>> values) {
  assert(label_names_.size() == 1 && "set_all needs a family with exactly one label");
  std::lock_guard lock(mutex_);
  for (auto& [key, gauge] : series_) gauge->set(0);
  for (const auto& [label_value, number] : values) {
    std::vector<std::string> key(label_names_.size());
    if (!key.empty()) key[0] = label_value;
    find_or_create_locked(std::move(key)).set(number);
  }
}

void GaugeFamily::set_exclusive(std::string_view active) {
  const std::pair<std::string_view, double> one[] = {{active, 1.0}};
  set_all(one);
}

// ---- MetricsRegistry -------------------------------------------------------

struct MetricsRegistry::Entry {
  std::string type;  // "counter", "gauge" or "histogram"
  std::variant<std::unique_ptr<CounterFamily>, std::unique_ptr<GaugeFamily>, std::unique_ptr<HistogramFamily>> family;

  const std::string& name() const {
    return std::visit([](const auto& f) -> const std::string& { return f->name(); }, family);
  }
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

template <class Family>
Result<Family*> MetricsRegistry::add(std::string_view type, std::string_view name, std::string_view help,
                                     std::initializer_list<std::string_view> label_names,
                                     std::span<const double> upper_bounds) {
  const std::string what = "metric " + std::string(name);
  if (!is_metric_name(name)) {
    return Error(Errc::invalid_argument,
                 what + ": not a valid metric name; use letters, digits, '_' and ':', not starting with a digit");
  }
  std::vector<std::string> labels;
  std::set<std::string_view> seen;
  for (const std::string_view label : label_names) {
    if (!is_label_name(label) || label.starts_with("__")) {
      return Error(Errc::invalid_argument, what + ": label name '" + std::string(label) +
                                               "' is invalid; use letters, digits and '_', not starting with "
                                               "a digit or '__'");
    }
    if (type == "histogram" && label == "le") {
      return Error(Errc::invalid_argument, what + ": label name 'le' is reserved for histogram buckets");
    }
    if (!seen.insert(label).second) {
      return Error(Errc::invalid_argument, what + ": label name '" + std::string(label) + "' is listed twice");
    }
    labels.emplace_back(label);
  }
  std::vector<double> bounds;
  if (type == "histogram") {
    if (upper_bounds.empty()) return Error(Errc::invalid_argument, what + ": a histogram needs at least one bucket");
    for (size_t i = 0; i < upper_bounds.size(); ++i) {
      if (!std::isfinite(upper_bounds[i]) || (i > 0 && upper_bounds[i] <= upper_bounds[i - 1])) {
        return Error(Errc::invalid_argument,
                     what + ": bucket bounds must be finite and strictly ascending (+Inf is added automatically)");
      }
    }
    bounds.assign(upper_bounds.begin(), upper_bounds.end());
  }

  std::lock_guard lock(mutex_);
  for (const auto& entry : families_) {
    if (entry->name() != name) continue;
    auto* existing = std::get_if<std::unique_ptr<Family>>(&entry->family);
    if (entry->type == type && existing != nullptr && (*existing)->label_names() == labels &&
        (*existing)->upper_bounds_ == bounds) {
      return existing->get();
    }
    return Error(Errc::conflict, what + ": already registered as a " + entry->type +
                                     " with other labels or buckets; register each name once");
  }
  // The constructors are private to the families; make_unique cannot reach them.
  std::unique_ptr<Family> family(new Family(std::string(name), std::string(help), std::move(labels), bounds));
  Family* raw = family.get();
  if (raw->label_names().empty()) raw->with();
  auto entry = std::make_unique<Entry>();
  entry->type = std::string(type);
  entry->family = std::move(family);
  families_.push_back(std::move(entry));
  return raw;
}

Result<CounterFamily*> MetricsRegistry::counter(std::string_view name, std::string_view help,
                                                std::initializer_list<std::string_view> label_names) {
  return add<CounterFamily>("counter", name, help, label_names, {});
}

Result<GaugeFamily*> MetricsRegistry::gauge(std::string_view name, std::string_view help,
                                            std::initializer_list<std::string_view> label_names) {
  return add<GaugeFamily>("gauge", name, help, label_names, {});
}

Result<HistogramFamily*> MetricsRegistry::histogram(std::string_view name, std::string_view help,
                                                    std::initializer_list<std::string_view> label_names,
                                                    std::span<const double> upper_bounds) {
  return add<HistogramFamily>("histogram", name, help, label_names, upper_bounds);
}

void MetricsRegistry::add_collector(std::function<void(std::string&)> collect) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::make_shared<const std::function<void(std::string&)>>(std::move(collect)));
}

std::string MetricsRegistry::render() const {
  std::string out;
  auto collectors = render_families(out);
  for (const auto& collect : collectors) (*collect)(out);
  return out;
}

std::vector<std::shared_ptr<const std::function<void(std::string&)>>> MetricsRegistry::render_families(
    std::string& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& entry : families_) {
    std::visit(
        [&](const auto& family) {
          out += "# HELP ";
          out += family->name();
          out += ' ';
          append_escaped(out, family->help(), false);
          out += "\n# TYPE ";
          out += family->name();
          out += ' ';
          out += entry->type;
          out += '\n';
          const auto& names = family->label_names();
          const std::string& name = family->name();
          family->for_each([&](const std::vector<std::string>& values, const auto& series) {
            using Series = std::decay_t<decltype(series)>;
            if constexpr (std::is_same_v<Series, Counter>) {
              append_sample(out, name, "", names, values);
              append_uint(out, series.value());
              out += '\n';
            } else if constexpr (std::is_same_v<Series, Gauge>) {
              append_sample(out, name, "", names, values);
              append_double(out, series.value());
              out += '\n';
            } else {
              const Histogram::Snapshot snap = series.snapshot();
              const auto& bounds = series.upper_bounds();
              std::string le;
              for (size_t i = 0; i < snap.cumulative.size(); ++i) {
                le.clear();
                if (i < bounds.size()) {
                  append_double(le, bounds[i]);
                } else {
                  le = "+Inf";
                }
                append_sample(out, name, "_bucket", names, values, &le);
                append_uint(out, snap.cumulative[i]);
                out += '\n';
              }
              append_sample(out, name, "_sum", names, values);
              append_double(out, snap.sum);
              out += '\n';
              append_sample(out, name, "_count", names, values);
              append_uint(out, snap.count);
              out += '\n';
            }
          });
        },
        entry->family);
  }
  return collectors_;
}

}  // namespace dc
