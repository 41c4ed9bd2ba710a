// dc-chaos: the fault-injection driver. Starts a private broker, runs every
// scenario of tests/chaos/scenarios.h against the real dc-manager, and prints
// the result tables (Markdown) on stdout and to --report. Exit 0 when every
// row passed, 1 when any failed, 2 on a usage error.
//
//   dc-chaos --source-dir REPO --bin-dir DIR --work-dir DIR [--full] [--seed N]
//            [--rabbit-port P] [--pg-port P] [--only a,b] [--report FILE]
//
// Scenarios (--only): broker-kill, manager-kill, network, broker-freeze,
// database, topology, same-name, hostile, cluster (tests/chaos/cluster_scenarios.h).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>

#include "base/ids.h"
#include "base/time.h"
#include "chaos/cluster_scenarios.h"
#include "chaos/scenarios.h"

namespace dc::chaos {
namespace {

void on_signal(int) { g_interrupted.store(true); }

std::string fmt_seconds(double s) {
  if (s < 0) return "-";
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(s < 10 ? 2 : 1);
  out << s << " s";
  return out.str();
}

std::string fmt_mib(long kib) {
  if (kib < 0) return "?";
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  out << static_cast<double>(kib) / 1024.0 << " MiB";
  return out.str();
}

std::string render(const std::vector<Row>& rows, const HostileReport& hostile, bool hostile_ran,
                   const std::string& header) {
  std::ostringstream md;
  md << header << "\n\n";
  md << "| scenario | faults | issued | executed | not executed (reasons) | lost | duplicated effects | order "
        "violations | via DB path | recovery (worst) | settle | result |\n";
  md << "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|\n";
  for (const auto& r : rows) {
    std::string reasons = std::to_string(r.not_executed);
    if (!r.reasons.empty()) {
      reasons += " (";
      bool first = true;
      for (const auto& [why, n] : r.reasons) {
        reasons += (first ? "" : "; ") + why + ": " + std::to_string(n);
        first = false;
      }
      reasons += ")";
    }
    md << "| " << r.scenario << " | " << r.faults << " | " << r.issued << " | " << r.executed << " | " << reasons
       << " | " << r.lost << " | " << r.duplicated << " | " << r.order_violations << " | " << r.via_poll << " | "
       << fmt_seconds(r.recovery_s) << " | " << fmt_seconds(r.settle_s) << " | "
       << (!r.passed()         ? "**FAIL**"
           : r.verdict.empty() ? "PASS"
                               : r.verdict)
       << " |\n";
  }
  md << "\nNotes per scenario:\n\n";
  for (const auto& r : rows) {
    md << "- **" << r.scenario << "**: ";
    bool first = true;
    for (const auto& n : r.notes) {
      md << (first ? "" : "; ") << n;
      first = false;
    }
    for (const auto& f : r.failures) {
      md << (first ? "" : "; ") << "FAILED: " << f;
      first = false;
    }
    md << "\n";
  }
  if (hostile_ran) {
    md << "\n### Hostile input\n\n| message | bytes | expected | observed | ok |\n|---|---:|---|---|---|\n";
    for (const auto& l : hostile.lines) {
      md << "| " << l.kind << " | " << l.bytes << " | " << l.expected << " | " << l.observed << " | "
         << (l.ok ? "yes" : "**NO**") << " |\n";
    }
    md << "\nManager memory: VmRSS " << fmt_mib(hostile.rss_before_kib) << " before, " << fmt_mib(hostile.rss_after_kib)
       << " after; peak (VmHWM) " << fmt_mib(hostile.peak_kib) << ". Dead-letter queue: " << hostile.dead_lettered
       << " message(s) for " << hostile.poison_sent << " poison message(s) sent.\n";
  }
  return md.str();
}

int usage(const std::string& problem) {
  std::cerr
      << "dc-chaos: " << problem
      << "\nusage: dc-chaos --source-dir REPO --bin-dir DIR_WITH_DC_MANAGER --work-dir DIR [--full] [--seed N]"
         " [--rabbit-port P] [--pg-port P] [--only broker-kill,manager-kill,network,broker-freeze,database,"
         "topology,same-name,late-exit,broadcast-new-apps,lease,hanging-reconnect,hostile,cluster] [--report FILE]\n";
  return 2;
}

int chaos_main(int argc, char** argv) {
  Context ctx;
  ctx.rabbit_port = 56901;
  ctx.pg_port = 56951;
  ctx.seed = static_cast<uint64_t>(to_unix_micros(now()));
  std::string only;
  std::string report_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    std::optional<std::string> v;
    if (arg == "--full") {
      ctx.short_mode = false;
    } else if (arg == "--short") {
      ctx.short_mode = true;
    } else if (arg == "--source-dir" && (v = value())) {
      ctx.paths.source_dir = *v;
    } else if (arg == "--bin-dir" && (v = value())) {
      ctx.paths.bin_dir = *v;
    } else if (arg == "--work-dir" && (v = value())) {
      ctx.paths.work_dir = *v;
    } else if (arg == "--seed" && (v = value())) {
      ctx.seed = std::strtoull(v->c_str(), nullptr, 10);
    } else if (arg == "--rabbit-port" && (v = value())) {
      ctx.rabbit_port = std::atoi(v->c_str());
    } else if (arg == "--pg-port" && (v = value())) {
      ctx.pg_port = std::atoi(v->c_str());
    } else if (arg == "--only" && (v = value())) {
      only = "," + *v + ",";
    } else if (arg == "--report" && (v = value())) {
      report_path = *v;
    } else {
      return usage("unknown or incomplete argument '" + arg + "'");
    }
  }
  if (ctx.paths.source_dir.empty() || ctx.paths.bin_dir.empty() || ctx.paths.work_dir.empty()) {
    return usage("--source-dir, --bin-dir and --work-dir are required");
  }
  if (::access((ctx.paths.bin_dir + "/dc-manager").c_str(), X_OK) != 0) {
    return usage("no executable dc-manager in " + ctx.paths.bin_dir + " (build it: ninja -C build dc-manager)");
  }
  // Children start in their own directories: every path must be absolute.
  for (std::string* dir : {&ctx.paths.source_dir, &ctx.paths.bin_dir}) {
    if (char* real = ::realpath(dir->c_str(), nullptr)) {
      *dir = real;
      std::free(real);
    }
  }
  ctx.rng.seed(ctx.seed);
  ctx.run_id = random_uuid().substr(0, 8);
  ::mkdir(ctx.paths.work_dir.c_str(), 0755);
  if (char* real = ::realpath(ctx.paths.work_dir.c_str(), nullptr)) {
    ctx.paths.work_dir = real;
    std::free(real);
  }
  ::setenv("DC_CHAOS_WORK_DIR", ctx.paths.work_dir.c_str(), 1);

  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, nullptr);

  std::cerr << "[chaos] mode " << (ctx.short_mode ? "short" : "full") << ", seed " << ctx.seed << ", run " << ctx.run_id
            << ", broker port " << ctx.rabbit_port << ", work dir " << ctx.paths.work_dir << std::endl;
  const auto started = std::chrono::steady_clock::now();
  std::vector<Row> rows;
  HostileReport hostile;
  bool hostile_ran = false;
  {
    Rabbit rabbit(ctx.paths, ctx.rabbit_port);
    ctx.rabbit = &rabbit;
    if (auto st = rabbit.start(); !st) {
      std::cerr << "dc-chaos: cannot start the broker: " << st.error().message() << std::endl;
      return 1;
    }
    const std::vector<std::pair<std::string, std::function<std::vector<Row>(Context&)>>> scenarios = {
        {"broker-kill", run_broker_kill},
        {"manager-kill", run_manager_kill},
        {"network", run_network},
        {"broker-freeze", run_broker_freeze},
        {"database", run_database},
        {"topology", run_topology_delete},
        {"same-name", run_duplicate_name},
        {"late-exit", run_late_exits},
        {"broadcast-new-apps", run_broadcast_newer_apps},
        {"lease", run_lease_takeover},
        {"hanging-reconnect", run_hanging_reconnects},
        {"hostile",
         [&](Context& c) {
           hostile_ran = true;
           return run_hostile(c, hostile);
         }},
        {"cluster", run_cluster}};
    for (const auto& [name, run] : scenarios) {
      if (g_interrupted.load()) break;
      if (!only.empty() && only.find("," + name + ",") == std::string::npos) continue;
      for (auto& r : run(ctx)) rows.push_back(std::move(r));
      kill_orphan_apps("chaos-" + ctx.run_id + "-");
    }
    ctx.rabbit = nullptr;
  }  // the broker stops here, whatever happened
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  std::ostringstream header;
  header << "Mode **" << (ctx.short_mode ? "short" : "full") << "**, seed " << ctx.seed << ", run " << ctx.run_id
         << ", " << fmt_seconds(took) << " in all.";
  const std::string md = render(rows, hostile, hostile_ran, header.str());
  std::cout << md << std::flush;
  if (!report_path.empty()) std::ofstream(report_path) << md;
  bool all_passed = !g_interrupted.load();
  for (const auto& r : rows) all_passed = all_passed && r.passed();
  for (const auto& l : hostile.lines) all_passed = all_passed && l.ok;
  std::cerr << "[chaos] " << (all_passed ? "all scenarios passed" : "FAILURES (see the table)") << std::endl;
  return all_passed ? 0 : 1;
}

}  // namespace
}  // namespace dc::chaos

int main(int argc, char** argv) { return dc::chaos::chaos_main(argc, argv); }
