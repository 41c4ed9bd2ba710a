// The process_* metrics every Prometheus client library exports, under the
// same names and units, read from /proc at scrape time:
//
//   process_cpu_seconds_total       counter  user + system CPU time, seconds
//   process_resident_memory_bytes   gauge    resident set size
//   process_virtual_memory_bytes    gauge    virtual memory size
//   process_open_fds                gauge    open file descriptors
//   process_max_fds                 gauge    the RLIMIT_NOFILE soft limit
//   process_start_time_seconds      gauge    start time, seconds since the epoch
//
// add_process_metrics(registry) makes a registry render them; the parsing
// and formatting below are pure and unit-tested (tests/observe).
//
// Thread safety: every function here is safe to call from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace dc {

class MetricsRegistry;

// The fields of /proc/<pid>/stat that the metrics need, in the kernel's units.
struct ProcStat {
  uint64_t utime_ticks = 0;  // field 14
  uint64_t stime_ticks = 0;  // field 15
  uint64_t start_ticks = 0;  // field 22: clock ticks after boot
  uint64_t vsize_bytes = 0;  // field 23
  int64_t rss_pages = 0;     // field 24
};

// Parses the one line of /proc/<pid>/stat. The command name (field 2) is in
// parentheses and may itself hold spaces and parentheses, so fields are
// counted from the last ')'. Errc::invalid_argument when the line is not
// in that shape.
Result<ProcStat> parse_proc_stat(std::string_view line);

// The boot time ("btime N", seconds since the epoch) from /proc/stat.
// Errc::invalid_argument when absent.
Result<int64_t> parse_boot_time(std::string_view proc_stat);

struct ProcessSample {
  double cpu_seconds = 0;
  double resident_memory_bytes = 0;
  double virtual_memory_bytes = 0;
  double start_time_seconds = 0;
  std::optional<int64_t> open_fds;  // unknown when /proc/self/fd cannot be listed
  std::optional<int64_t> max_fds;   // unknown when unlimited
};

// The sample a ProcStat gives on a host with `ticks_per_second` clock ticks
// (sysconf(_SC_CLK_TCK)), `page_size` bytes per page and boot time
// `boot_time` (seconds since the epoch). open_fds and max_fds are left unset.
ProcessSample process_sample_from(const ProcStat& stat, int64_t boot_time, int64_t ticks_per_second, int64_t page_size);

// Reads the calling process's sample from /proc. Errc::io when /proc/self/stat
// or /proc/stat cannot be read (no procfs).
Result<ProcessSample> read_process_sample();

// The exposition text of `sample`: HELP, TYPE and value of each metric
// above (the fd metrics only when known).
std::string format_process_metrics(const ProcessSample& sample);

// Makes `registry` render the process_* metrics of the calling process after
// its own families, read afresh on every render(). Nothing is rendered when
// /proc cannot be read.
void add_process_metrics(MetricsRegistry& registry);

}  // namespace dc
