#include "observe/process_metrics.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <ctime>
#include <string>

#include "observe/metrics.h"

namespace dc {
namespace {

// A real line of /proc/<pid>/stat, with a command name holding a space and
// a parenthesis as a program may name itself.
constexpr std::string_view kStatLine =
    "4242 (dc (manager) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 123456 "
    "987654321 2048 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

TEST(ProcessMetrics, ParsesProcStatPastAParenthesisedName) {
  auto stat = parse_proc_stat(kStatLine);
  ASSERT_TRUE(stat) << stat.error().message();
  EXPECT_EQ(stat->utime_ticks, 250u);
  EXPECT_EQ(stat->stime_ticks, 75u);
  EXPECT_EQ(stat->start_ticks, 123456u);
  EXPECT_EQ(stat->vsize_bytes, 987654321u);
  EXPECT_EQ(stat->rss_pages, 2048);
}

TEST(ProcessMetrics, RefusesWhatIsNotAStatLine) {
  EXPECT_FALSE(parse_proc_stat(""));
  EXPECT_FALSE(parse_proc_stat("4242 (short) S 1 2 3"));
  EXPECT_FALSE(parse_proc_stat("4242 (x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 ten 75 0 0 20 0 9 0 1 2 3 4"));
}

TEST(ProcessMetrics, FindsTheBootTime) {
  EXPECT_EQ(*parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1764640000\nprocesses 9\n"), 1764640000);
  EXPECT_FALSE(parse_boot_time("cpu 1 2 3\n"));
}

TEST(ProcessMetrics, ConvertsTicksAndPagesToSecondsAndBytes) {
  const ProcessSample s = process_sample_from(*parse_proc_stat(kStatLine), 1'700'000'000, 100, 4096);
  EXPECT_DOUBLE_EQ(s.cpu_seconds, 3.25);
  EXPECT_DOUBLE_EQ(s.resident_memory_bytes, 2048.0 * 4096);
  EXPECT_DOUBLE_EQ(s.virtual_memory_bytes, 987654321.0);
  EXPECT_DOUBLE_EQ(s.start_time_seconds, 1'700'000'000 + 1234.56);
}

TEST(ProcessMetrics, FormatsThePrometheusClientNames) {
  ProcessSample s;
  s.cpu_seconds = 3.25;
  s.resident_memory_bytes = 8388608;
  s.virtual_memory_bytes = 987654321;
  s.start_time_seconds = 1700001234.56;
  s.open_fds = 12;
  s.max_fds = 1024;
  const std::string text = format_process_metrics(s);
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 3.25\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 8388608\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("process_virtual_memory_bytes 987654321\n"), std::string::npos) << text;
  EXPECT_NE(text.find("process_open_fds 12\n"), std::string::npos) << text;
  EXPECT_NE(text.find("process_max_fds 1024\n"), std::string::npos) << text;
  // Fractional values print as client_golang prints them (shortest round trip).
  const std::string start_line = "\nprocess_start_time_seconds ";
  const size_t at = text.find(start_line);
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_DOUBLE_EQ(std::stod(text.substr(at + start_line.size())), 1700001234.56) << text;
  s.open_fds.reset();
  s.max_fds.reset();
  EXPECT_EQ(format_process_metrics(s).find("_fds"), std::string::npos);
}

TEST(ProcessMetrics, ReadsThisProcessFromProc) {
  auto sample = read_process_sample();
  ASSERT_TRUE(sample) << sample.error().message();
  EXPECT_GT(sample->resident_memory_bytes, 0);
  ASSERT_TRUE(sample->open_fds.has_value());
  EXPECT_GE(*sample->open_fds, 3);  // stdin, stdout, stderr at least
  const double t = static_cast<double>(std::time(nullptr));
  EXPECT_LE(sample->start_time_seconds, t + 2);
  EXPECT_GT(sample->start_time_seconds, t - 3600);  // this test started within the hour
}

TEST(ProcessMetrics, ARegistryRendersThemAfterItsOwnFamilies) {
  MetricsRegistry registry;
  registry.counter("mine_total", "Mine").value()->with().inc();
  add_process_metrics(registry);
  const std::string text = registry.render();
  const size_t mine = text.find("mine_total 1");
  const size_t cpu = text.find("process_cpu_seconds_total ");
  ASSERT_NE(mine, std::string::npos);
  ASSERT_NE(cpu, std::string::npos);
  EXPECT_LT(mine, cpu);
  EXPECT_NE(text.find("process_start_time_seconds "), std::string::npos);
}

}  // namespace
}  // namespace dc
