#include "observe/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <vector>

#include "base/file.h"
#include "observe/metrics.h"

namespace dc {
namespace {

// The fields after "(comm)", split on spaces: index 0 is field 3 (state).
std::vector<std::string_view> fields_after_comm(std::string_view line) {
  std::vector<std::string_view> fields;
  const size_t close = line.rfind(')');
  if (close == std::string_view::npos) return fields;
  std::string_view rest = line.substr(close + 1);
  while (!rest.empty()) {
    const size_t start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const size_t end = rest.find_first_of(" \n");
    fields.push_back(rest.substr(0, end));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end);
  }
  return fields;
}

template <class T>
bool parse_number(std::string_view text, T& out) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

std::optional<int64_t> count_open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  int64_t count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  // The descriptor opendir() held to list the directory is not the process's own.
  return count > 0 ? count - 1 : 0;
}

std::optional<int64_t> max_fds() {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return std::nullopt;
  return static_cast<int64_t>(limit.rlim_cur);
}

void append_metric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
                   double value) {
  const Sample sample{{}, value};
  append_family(out, name, type, help, {}, std::span<const Sample>(&sample, 1));
}

}  // namespace

Result<ProcStat> parse_proc_stat(std::string_view line) {
  const auto fields = fields_after_comm(line);
  // Field n (1-based, as proc(5) numbers them) is fields[n - 3].
  if (fields.size() < 22) {
    return Error(Errc::invalid_argument, "/proc/<pid>/stat: expected at least 24 fields after the command name");
  }
  ProcStat stat;
  if (!parse_number(fields[14 - 3], stat.utime_ticks) || !parse_number(fields[15 - 3], stat.stime_ticks) ||
      !parse_number(fields[22 - 3], stat.start_ticks) || !parse_number(fields[23 - 3], stat.vsize_bytes) ||
      !parse_number(fields[24 - 3], stat.rss_pages)) {
    return Error(Errc::invalid_argument, "/proc/<pid>/stat: a CPU time, start time or memory field is not a number");
  }
  return stat;
}

Result<int64_t> parse_boot_time(std::string_view proc_stat) {
  size_t at = 0;
  while (at < proc_stat.size()) {
    const size_t end = proc_stat.find('\n', at);
    std::string_view line = proc_stat.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
    if (line.starts_with("btime ")) {
      int64_t value = 0;
      if (parse_number(line.substr(6), value)) return value;
      break;
    }
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  return Error(Errc::invalid_argument, "/proc/stat: no \"btime N\" line");
}

ProcessSample process_sample_from(const ProcStat& stat, int64_t boot_time, int64_t ticks_per_second,
                                  int64_t page_size) {
  const auto ticks = static_cast<double>(ticks_per_second > 0 ? ticks_per_second : 100);
  ProcessSample sample;
  sample.cpu_seconds = static_cast<double>(stat.utime_ticks + stat.stime_ticks) / ticks;
  sample.resident_memory_bytes = static_cast<double>(stat.rss_pages) * static_cast<double>(page_size);
  sample.virtual_memory_bytes = static_cast<double>(stat.vsize_bytes);
  sample.start_time_seconds = static_cast<double>(boot_time) + static_cast<double>(stat.start_ticks) / ticks;
  return sample;
}

Result<ProcessSample> read_process_sample() {
  auto self = read_small_file("/proc/self/stat", 4096);
  if (!self) return Error(Errc::io, "/proc/self/stat: " + self.error().message());
  auto stat = parse_proc_stat(*self);
  if (!stat) return stat.error();
  auto system = read_small_file("/proc/stat", 1 << 20);
  if (!system) return Error(Errc::io, "/proc/stat: " + system.error().message());
  auto boot = parse_boot_time(*system);
  if (!boot) return boot.error();
  ProcessSample sample = process_sample_from(*stat, *boot, ::sysconf(_SC_CLK_TCK), ::sysconf(_SC_PAGESIZE));
  sample.open_fds = count_open_fds();
  sample.max_fds = max_fds();
  return sample;
}

std::string format_process_metrics(const ProcessSample& s) {
  std::string out;
  append_metric(out, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
                s.cpu_seconds);
  if (s.open_fds) {
    append_metric(out, "process_open_fds", "gauge", "Number of open file descriptors.",
                  static_cast<double>(*s.open_fds));
  }
  if (s.max_fds) {
    append_metric(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                  static_cast<double>(*s.max_fds));
  }
  append_metric(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", s.virtual_memory_bytes);
  append_metric(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                s.resident_memory_bytes);
  append_metric(out, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
                s.start_time_seconds);
  return out;
}

void add_process_metrics(MetricsRegistry& registry) {
  registry.add_collector([](std::string& out) {
    auto sample = read_process_sample();
    if (sample) out += format_process_metrics(*sample);
  });
}

}  // namespace dc
