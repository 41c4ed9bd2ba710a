#include "observe/metrics.h"

#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace dc {
namespace {

// One parsed exposition: the HELP/TYPE comments and the samples, keyed by
// metric name plus its labels (unescaped) in a canonical form.
struct Exposition {
  std::map<std::string, std::string> help;     // name -> unescaped help
  std::map<std::string, std::string> type;     // name -> type
  std::map<std::string, std::string> samples;  // "name{k=v,...}" -> value text
  std::vector<std::string> sample_order;       // keys in rendered order
  std::vector<std::string> errors;
};

std::string unescape(std::string_view text, bool& ok) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i == text.size()) {
      ok = false;
      break;
    }
    switch (text[i]) {
      case '\\':
        out += '\\';
        break;
      case '"':
        out += '"';
        break;
      case 'n':
        out += '\n';
        break;
      default:
        ok = false;
    }
  }
  return out;
}

bool is_name_char(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
}

// A strict reader of the 0.0.4 text format, enough to check what render()
// promises: every line is a comment or `name{labels} value`, label values are
// quoted with \\, \" and \n escapes, the text ends with a newline.
Exposition parse(const std::string& text) {
  Exposition result;
  if (!text.empty() && text.back() != '\n') result.errors.push_back("does not end with a newline");
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("# HELP ")) {
      const std::string rest = line.substr(7);
      const size_t space = rest.find(' ');
      bool ok = true;
      result.help[rest.substr(0, space)] = unescape(rest.substr(space + 1), ok);
      if (!ok) result.errors.push_back("bad escape in: " + line);
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      const std::string rest = line.substr(7);
      const size_t space = rest.find(' ');
      result.type[rest.substr(0, space)] = rest.substr(space + 1);
      continue;
    }
    size_t pos = 0;
    while (pos < line.size() && is_name_char(line[pos], pos == 0)) ++pos;
    if (pos == 0) {
      result.errors.push_back("no metric name: " + line);
      continue;
    }
    std::string key = line.substr(0, pos);
    if (pos < line.size() && line[pos] == '{') {
      ++pos;
      key += '{';
      bool first = true;
      while (pos < line.size() && line[pos] != '}') {
        const size_t eq = line.find("=\"", pos);
        if (eq == std::string::npos) break;
        const std::string label = line.substr(pos, eq - pos);
        size_t end = eq + 2;
        std::string raw;
        while (end < line.size() && line[end] != '"') {
          if (line[end] == '\\' && end + 1 < line.size()) raw += line[end++];
          raw += line[end++];
        }
        bool ok = true;
        const std::string value = unescape(raw, ok);
        if (!ok) result.errors.push_back("bad escape in: " + line);
        if (!first) key += ',';
        first = false;
        key += label + "=" + value;
        pos = end + 1;
        if (pos < line.size() && line[pos] == ',') ++pos;
      }
      if (pos >= line.size() || line[pos] != '}') {
        result.errors.push_back("unterminated labels: " + line);
        continue;
      }
      ++pos;
      key += '}';
    }
    if (pos >= line.size() || line[pos] != ' ') {
      result.errors.push_back("no value: " + line);
      continue;
    }
    const std::string value = line.substr(pos + 1);
    if (value.empty() || value.find(' ') != std::string::npos) result.errors.push_back("bad value: " + line);
    result.samples[key] = value;
    result.sample_order.push_back(key);
  }
  return result;
}

TEST(Metrics, RendersHelpAndTypeBeforeSamples) {
  MetricsRegistry registry;
  auto commands = registry.counter("dc_commands_total", "Commands handled, by outcome and path", {"outcome", "path"});
  ASSERT_TRUE(commands) << commands.error().message();
  commands.value()->with({"executed", "broker"}).inc(3);

  const std::string text = registry.render();
  EXPECT_EQ(text,
            "# HELP dc_commands_total Commands handled, by outcome and path\n"
            "# TYPE dc_commands_total counter\n"
            "dc_commands_total{outcome=\"executed\",path=\"broker\"} 3\n");
  const Exposition parsed = parse(text);
  EXPECT_TRUE(parsed.errors.empty()) << ::testing::PrintToString(parsed.errors);
}

TEST(Metrics, FamilyWithoutLabelsRendersZeroBeforeFirstUpdate) {
  MetricsRegistry registry;
  ASSERT_TRUE(registry.counter("dc_poison_total", "Poison messages"));
  ASSERT_TRUE(registry.gauge("dc_up", "Always 1"));
  const Exposition parsed = parse(registry.render());
  EXPECT_EQ(parsed.samples.at("dc_poison_total"), "0");
  EXPECT_EQ(parsed.samples.at("dc_up"), "0");
  EXPECT_EQ(parsed.type.at("dc_poison_total"), "counter");
  EXPECT_EQ(parsed.type.at("dc_up"), "gauge");
}

TEST(Metrics, CountsIncrementsFromFourThreads) {
  MetricsRegistry registry;
  auto family = registry.counter("dc_commands_total", "Commands", {"outcome", "path"});
  ASSERT_TRUE(family);
  Counter& broker = family.value()->with({"executed", "broker"});
  Counter& poll = family.value()->with({"executed", "poll"});
  auto poison = registry.counter("dc_poison_total", "Poison");
  ASSERT_TRUE(poison);
  Counter& poison_count = poison.value()->with();

  constexpr int kThreads = 4;
  constexpr int kPerThread = 25000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        broker.inc();
        if (i % 5 == 0) poll.inc(2);
        if (t == 0) poison_count.inc();
        // Resolving again from another thread yields the same series.
        if (i % 10000 == 0) family.value()->with({"executed", "broker"}).inc(0);
      }
    });
  }
  // Rendering concurrently with the updates must be safe and well-formed.
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(parse(registry.render()).errors.empty());
  for (auto& thread : threads) thread.join();

  const Exposition parsed = parse(registry.render());
  EXPECT_TRUE(parsed.errors.empty()) << ::testing::PrintToString(parsed.errors);
  EXPECT_EQ(parsed.samples.at("dc_commands_total{outcome=executed,path=broker}"),
            std::to_string(kThreads * kPerThread));
  EXPECT_EQ(parsed.samples.at("dc_commands_total{outcome=executed,path=poll}"),
            std::to_string(kThreads * (kPerThread / 5) * 2));
  EXPECT_EQ(parsed.samples.at("dc_poison_total"), std::to_string(kPerThread));
  EXPECT_EQ(&broker, &family.value()->with({"executed", "broker"}));
}

TEST(Metrics, HistogramBucketsAreCumulativeAndCountMatches) {
  MetricsRegistry registry;
  auto latency = registry.histogram("dc_command_latency_seconds", "Command latency");
  ASSERT_TRUE(latency) << latency.error().message();
  Histogram& histogram = latency.value()->with();
  // 0.001 sits exactly on a bound: buckets are "less than or equal".
  const std::vector<double> observations = {0.0001, 0.001, 0.003, 0.003, 0.2, 0.7, 3, 20, 1000};
  double sum = 0;
  for (const double v : observations) {
    histogram.observe(v);
    sum += v;
  }
  histogram.observe(std::nan(""));  // ignored

  const std::string text = registry.render();
  const Exposition parsed = parse(text);
  ASSERT_TRUE(parsed.errors.empty()) << ::testing::PrintToString(parsed.errors);
  EXPECT_EQ(parsed.type.at("dc_command_latency_seconds"), "histogram");

  const std::vector<std::string> les = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
                                        "0.25",   "0.5",   "1",      "2.5",   "5",    "10",    "+Inf"};
  std::vector<uint64_t> cumulative;
  for (const auto& le : les) {
    const std::string key = "dc_command_latency_seconds_bucket{le=" + le + "}";
    ASSERT_TRUE(parsed.samples.count(key)) << "missing " << key << " in\n" << text;
    cumulative.push_back(std::stoull(parsed.samples.at(key)));
  }
  for (size_t i = 1; i < cumulative.size(); ++i) EXPECT_LE(cumulative[i - 1], cumulative[i]) << les[i];
  EXPECT_EQ(cumulative[0], 1u);   // 0.0001
  EXPECT_EQ(cumulative[1], 2u);   // + 0.001 on the bound
  EXPECT_EQ(cumulative[3], 4u);   // + 2 x 0.003 <= 0.005
  EXPECT_EQ(cumulative[8], 5u);   // + 0.2 <= 0.25
  EXPECT_EQ(cumulative[9], 5u);   // nothing in (0.25, 0.5]
  EXPECT_EQ(cumulative[10], 6u);  // + 0.7 <= 1
  EXPECT_EQ(cumulative[13], 7u);  // + 3 <= 5; 20 and 1000 only in +Inf
  EXPECT_EQ(cumulative[14], observations.size());
  EXPECT_EQ(parsed.samples.at("dc_command_latency_seconds_count"), std::to_string(observations.size()));
  EXPECT_NEAR(std::stod(parsed.samples.at("dc_command_latency_seconds_sum")), sum, 1e-9);
}

TEST(Metrics, HistogramCountIsExactUnderConcurrentObservations) {
  MetricsRegistry registry;
  auto latency = registry.histogram("latency_seconds", "Latency", {"path"});
  ASSERT_TRUE(latency);
  Histogram& histogram = latency.value()->with({"broker"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) histogram.observe(0.0001 * (i % 100) * (t + 1));
    });
  }
  for (int i = 0; i < 10; ++i) {
    // While observations run, _count always equals the +Inf bucket.
    const Exposition parsed = parse(registry.render());
    EXPECT_EQ(parsed.samples.at("latency_seconds_count{path=broker}"),
              parsed.samples.at("latency_seconds_bucket{path=broker,le=+Inf}"));
  }
  for (auto& thread : threads) thread.join();
  const Exposition parsed = parse(registry.render());
  EXPECT_EQ(parsed.samples.at("latency_seconds_count{path=broker}"), "40000");
  // Labels come first and `le` last on bucket lines.
  EXPECT_NE(registry.render().find("latency_seconds_bucket{path=\"broker\",le=\"0.0005\"} "), std::string::npos);
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  MetricsRegistry registry;
  auto family = registry.counter("weird_total", "Help with \\ backslash\nand a newline", {"value"});
  ASSERT_TRUE(family);
  const std::string tricky = "back\\slash \"quoted\"\nnext line";
  family.value()->with({tricky}).inc();

  const std::string text = registry.render();
  EXPECT_NE(text.find("# HELP weird_total Help with \\\\ backslash\\nand a newline\n"), std::string::npos) << text;
  EXPECT_NE(text.find("weird_total{value=\"back\\\\slash \\\"quoted\\\"\\nnext line\"} 1\n"), std::string::npos)
      << text;
  const Exposition parsed = parse(text);
  ASSERT_TRUE(parsed.errors.empty()) << ::testing::PrintToString(parsed.errors);
  EXPECT_EQ(parsed.help.at("weird_total"), "Help with \\ backslash\nand a newline");
  EXPECT_EQ(parsed.samples.at("weird_total{value=" + tricky + "}"), "1");
  // Every line of the output is a complete record: the newline did not split one.
  EXPECT_EQ(parsed.sample_order.size(), 1u);
}

TEST(Metrics, GaugeSetAllReplacesTheWholeSet) {
  MetricsRegistry registry;
  auto apps = registry.gauge("dc_apps", "Apps by status", {"status"});
  ASSERT_TRUE(apps);
  apps.value()->set_all({{"RUNNING", 3}, {"STOPPED", 1}, {"FAILED", 2}});
  Exposition parsed = parse(registry.render());
  EXPECT_EQ(parsed.samples.at("dc_apps{status=RUNNING}"), "3");
  EXPECT_EQ(parsed.samples.at("dc_apps{status=FAILED}"), "2");

  apps.value()->set_all({{"RUNNING", 4}});
  parsed = parse(registry.render());
  EXPECT_EQ(parsed.samples.at("dc_apps{status=RUNNING}"), "4");
  EXPECT_EQ(parsed.samples.at("dc_apps{status=STOPPED}"), "0");  // not stale
  EXPECT_EQ(parsed.samples.at("dc_apps{status=FAILED}"), "0");
}

TEST(Metrics, GaugeSetExclusiveIsOneHot) {
  MetricsRegistry registry;
  auto mode = registry.gauge("dc_mode", "Current mode", {"mode"});
  ASSERT_TRUE(mode);
  mode.value()->with({"broker"});
  mode.value()->with({"fallback"});
  mode.value()->set_exclusive("fallback");
  Exposition parsed = parse(registry.render());
  EXPECT_EQ(parsed.samples.at("dc_mode{mode=broker}"), "0");
  EXPECT_EQ(parsed.samples.at("dc_mode{mode=fallback}"), "1");
  mode.value()->set_exclusive("broker");
  parsed = parse(registry.render());
  EXPECT_EQ(parsed.samples.at("dc_mode{mode=broker}"), "1");
  EXPECT_EQ(parsed.samples.at("dc_mode{mode=fallback}"), "0");
}

TEST(Metrics, GaugeRendersFractionsAndSpecialValues) {
  MetricsRegistry registry;
  auto family = registry.gauge("g", "A gauge", {"k"});
  ASSERT_TRUE(family);
  family.value()->with({"half"}).set(0.5);
  family.value()->with({"nan"}).set(std::nan(""));
  family.value()->with({"inf"}).set(INFINITY);
  Gauge& counted = family.value()->with({"sum"});
  counted.add(1.25);
  counted.add(-0.25);
  const Exposition parsed = parse(registry.render());
  EXPECT_EQ(parsed.samples.at("g{k=half}"), "0.5");
  EXPECT_EQ(parsed.samples.at("g{k=nan}"), "NaN");
  EXPECT_EQ(parsed.samples.at("g{k=inf}"), "+Inf");
  EXPECT_EQ(parsed.samples.at("g{k=sum}"), "1");
}

TEST(Metrics, RendersFamiliesInRegistrationOrderAndSeriesSorted) {
  MetricsRegistry registry;
  auto b = registry.counter("b_total", "B", {"x"});
  auto a = registry.counter("a_total", "A");
  ASSERT_TRUE(a && b);
  b.value()->with({"z"}).inc();
  b.value()->with({"m"}).inc();
  const Exposition parsed = parse(registry.render());
  ASSERT_EQ(parsed.sample_order.size(), 3u);
  EXPECT_EQ(parsed.sample_order[0], "b_total{x=m}");
  EXPECT_EQ(parsed.sample_order[1], "b_total{x=z}");
  EXPECT_EQ(parsed.sample_order[2], "a_total");
}

TEST(Metrics, ReRegisteringTheSameDefinitionReturnsTheSameFamily) {
  MetricsRegistry registry;
  auto first = registry.counter("dc_commands_total", "Commands", {"outcome", "path"});
  auto second = registry.counter("dc_commands_total", "Commands", {"outcome", "path"});
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first.value(), second.value());
}

TEST(Metrics, RejectsInvalidDefinitions) {
  MetricsRegistry registry;
  ASSERT_TRUE(registry.counter("taken_total", "Taken", {"a"}));
  const auto expect_error = [](const auto& result, Errc code, std::string_view mentions) {
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code(), code);
    EXPECT_NE(result.error().message().find(mentions), std::string::npos) << result.error().message();
  };
  expect_error(registry.counter("9starts_with_digit", "x"), Errc::invalid_argument, "9starts_with_digit");
  expect_error(registry.counter("has-dash", "x"), Errc::invalid_argument, "has-dash");
  expect_error(registry.counter("", "x"), Errc::invalid_argument, "metric name");
  expect_error(registry.counter("ok_total", "x", {"bad-label"}), Errc::invalid_argument, "bad-label");
  expect_error(registry.counter("ok_total", "x", {"__reserved"}), Errc::invalid_argument, "__reserved");
  expect_error(registry.counter("ok_total", "x", {"a", "a"}), Errc::invalid_argument, "twice");
  expect_error(registry.histogram("h_seconds", "x", {"le"}), Errc::invalid_argument, "le");
  const double descending[] = {1, 0.5};
  expect_error(registry.histogram("h_seconds", "x", {}, descending), Errc::invalid_argument, "ascending");
  const double infinite[] = {1, INFINITY};
  expect_error(registry.histogram("h_seconds", "x", {}, infinite), Errc::invalid_argument, "finite");
  expect_error(registry.histogram("h_seconds", "x", {}, std::span<const double>()), Errc::invalid_argument,
               "at least one");
  expect_error(registry.counter("taken_total", "Taken", {"b"}), Errc::conflict, "taken_total");
  expect_error(registry.gauge("taken_total", "Taken", {"a"}), Errc::conflict, "counter");
  // Failed registrations leave nothing behind.
  EXPECT_EQ(parse(registry.render()).type.size(), 1u);
}

TEST(Metrics, AppendFamilyRendersASnapshotWithTheSameEscaping) {
  std::string out;
  const std::vector<Sample> samples = {{{"a\"b", "RUNNING"}, 1}, {{"plain", "STOPPED"}, 0.5}};
  append_family(out, "snap_state", "gauge", "A snapshot\nfamily", {"app_id", "status"}, samples);
  const Exposition parsed = parse(out);
  EXPECT_TRUE(parsed.errors.empty()) << out;
  EXPECT_EQ(parsed.type.at("snap_state"), "gauge");
  EXPECT_EQ(parsed.help.at("snap_state"), "A snapshot\nfamily");
  EXPECT_EQ(parsed.samples.at("snap_state{app_id=a\"b,status=RUNNING}"), "1");
  EXPECT_EQ(parsed.samples.at("snap_state{app_id=plain,status=STOPPED}"), "0.5");
}

TEST(Metrics, CollectorsRenderAfterTheFamiliesOnEveryScrape) {
  MetricsRegistry registry;
  registry.counter("first_total", "First").value()->with().inc(2);
  int calls = 0;
  registry.add_collector([&calls](std::string& out) {
    ++calls;
    const Sample sample{{}, static_cast<double>(calls)};
    append_family(out, "scraped", "gauge", "Read at scrape time", {}, std::span<const Sample>(&sample, 1));
  });
  Exposition parsed = parse(registry.render());
  EXPECT_TRUE(parsed.errors.empty());
  ASSERT_EQ(parsed.sample_order.size(), 2u);
  EXPECT_EQ(parsed.sample_order[0], "first_total");
  EXPECT_EQ(parsed.sample_order[1], "scraped");
  EXPECT_EQ(parsed.samples.at("scraped"), "1");
  parsed = parse(registry.render());
  EXPECT_EQ(parsed.samples.at("scraped"), "2");
}

}  // namespace
}  // namespace dc
