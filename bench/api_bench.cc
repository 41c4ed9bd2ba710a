// dc-api-bench: the API side of `make bench` (SPEC §10 api.* keys; run by
// scripts/bench-api.sh, which starts the broker, dc-api and what else a
// measurement needs). Each subcommand makes one measurement and prints one
// JSON object on stdout; diagnostics go to stderr. Exit 0 on success, 1 when
// the measurement could not be made, 2 on a usage error.
//
//   direct    commands issued by the issuing layer called directly (the
//             code dc-api's workers run), from --threads threads
//   http      commands issued through POST /api/v1/commands by --clients
//             keep-alive clients, back to back
//   latency   POST /api/v1/commands at a fixed rate (open loop: each request
//             is sent at its scheduled time, whatever the earlier ones did);
//             p50/p99 of the time to the answer
//   sse       --streams event streams open at once: the time from a change
//             to its event reaching every stream (p99), dc-api's RSS with
//             them open, and its CPU while they idle
//
// Every wait is bounded.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "api/command_source.h"
#include "config/config.h"
#include "http/client.h"
#include "http/sse.h"
#include "http/url.h"
#include "store/store.h"

namespace dc::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;
namespace net = boost::asio;
using tcp = net::ip::tcp;

[[noreturn]] void die(const std::string& why) {
  std::cerr << "dc-api-bench: " << why << '\n';
  std::exit(1);
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index = std::min(values.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(values.size())));
  return values[index];
}

std::string read_token(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  std::getline(in, token);
  if (token.empty()) die("no token in " + path);
  return token;
}

std::string body_for(const std::vector<std::string>& apps, size_t i) {
  // ENABLE: nothing to run, so only the source side (record, publish) is
  // measured, not what a manager does with it.
  return R"({"app_id":")" + apps[i % apps.size()] + R"(","command":"ENABLE"})";
}

std::vector<std::string> app_ids(int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) ids.push_back("bench-app-" + std::to_string(i));
  return ids;
}

// --- direct ----------------------------------------------------------------

Json run_direct(const Config& config, int threads, int count, int apps) {
  const auto ids = app_ids(apps);
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  std::atomic<int> published{0};
  std::vector<std::thread> workers;
  const auto started = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      auto store = Store::open(config.db_url);
      if (!store) {
        failed += 1;
        return;
      }
      CommandSource source(**store, config);
      for (int i = next++; i < count; i = next++) {
        IssueRequest request;
        request.name = CmdName::enable;
        request.app_id = ids[static_cast<size_t>(i) % ids.size()];
        request.issued_by = "bench";
        auto report = source.issue(request);
        if (!report) {
          std::cerr << report.error().message() << '\n';
          failed += 1;
        } else if (report->published) {
          published += 1;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (failed > 0) die(std::to_string(failed.load()) + " direct issues failed");
  return Json{{"count", count},
              {"threads", threads},
              {"seconds", seconds},
              {"per_s", count / seconds},
              {"published", published.load()}};
}

// --- http ------------------------------------------------------------------

Json run_http(const std::string& url, const std::string& token, int clients, int count, int apps) {
  const auto ids = app_ids(apps);
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  const HttpHeaders auth{{"Authorization", "Bearer " + token}};
  const auto started = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      auto client = HttpClient::create(url);
      if (!client) {
        failed += 1;
        return;
      }
      for (int i = next++; i < count; i = next++) {
        auto response = (*client)->request("POST", "/api/v1/commands", body_for(ids, static_cast<size_t>(i)), auth);
        if (!response || response->status != 202) {
          if (failed++ < 3) std::cerr << (response ? response->body : response.error().message()) << '\n';
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (failed > 0) die(std::to_string(failed.load()) + " requests failed");
  return Json{{"count", count}, {"clients", clients}, {"seconds", seconds}, {"per_s", count / seconds}};
}

// --- latency ---------------------------------------------------------------

Json run_latency(const std::string& url, const std::string& token, double rate, double duration, int apps) {
  const auto ids = app_ids(apps);
  const int total = static_cast<int>(rate * duration);
  // Enough connections that a slow answer never delays the next send.
  const int clients = 32;
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  std::mutex mutex;
  std::vector<double> latencies;
  const HttpHeaders auth{{"Authorization", "Bearer " + token}};
  const auto start = Clock::now() + std::chrono::milliseconds(200);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      auto client = HttpClient::create(url);
      if (!client) {
        failed += 1;
        return;
      }
      std::vector<double> mine;
      for (int i = next++; i < total; i = next++) {
        const auto due = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(i / rate));
        std::this_thread::sleep_until(due);
        auto response = (*client)->request("POST", "/api/v1/commands", body_for(ids, static_cast<size_t>(i)), auth);
        // From the scheduled time: a request sent late counts its lateness.
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - due).count());
        if (!response || response->status != 202) failed += 1;
      }
      std::lock_guard lock(mutex);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  if (failed > 0) die(std::to_string(failed.load()) + " requests failed");
  const double achieved = static_cast<double>(total) / std::chrono::duration<double>(Clock::now() - start).count();
  return Json{{"count", total},
              {"rate_per_s", rate},
              {"achieved_per_s", achieved},
              {"p50_ms", percentile(latencies, 50)},
              {"p99_ms", percentile(latencies, 99)},
              {"max_ms", percentile(latencies, 100)}};
}

// --- sse -------------------------------------------------------------------

// One event stream on a raw connection: the request is written once, then
// every byte read is fed to an SSE parser (after the response head).
struct Stream {
  explicit Stream(net::io_context& ioc) : socket(ioc) {}
  tcp::socket socket;
  std::array<char, 8192> buffer{};
  std::string head;
  bool in_body = false;
  SseParser parser;
  std::atomic<int64_t> last_seq{0};
  std::atomic<int64_t> arrived_ns{0};  // steady clock of the newest event
};

void read_more(Stream& s) {
  s.socket.async_read_some(net::buffer(s.buffer), [&s](boost::system::error_code ec, size_t n) {
    if (ec) return;
    std::string_view bytes(s.buffer.data(), n);
    if (!s.in_body) {
      s.head.append(bytes);
      const size_t end = s.head.find("\r\n\r\n");
      if (end == std::string::npos) return read_more(s);
      s.in_body = true;
      bytes = std::string_view(s.head).substr(end + 4);
    }
    for (const auto& e : s.parser.feed(bytes)) {
      if (!e.id.empty()) s.last_seq = std::stoll(e.id);
      s.arrived_ns = Clock::now().time_since_epoch().count();
    }
    if (!s.in_body) return;
    read_more(s);
  });
}

struct ProcStat {
  double cpu_seconds = 0;
  double rss_mib = 0;
};

ProcStat proc_stat(int pid) {
  ProcStat out;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  std::istringstream fields(line.substr(paren + 2));
  std::vector<std::string> f;
  std::string word;
  while (fields >> word) f.push_back(word);
  // After the command: state is field 3; utime 14 and stime 15 (1-based).
  if (f.size() > 13) {
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    out.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) out.rss_mib = std::stod(line.substr(6)) / 1024.0;
  }
  return out;
}

Json run_sse(const std::string& url_text, const std::string& token, int streams, int events, int api_pid,
             double idle_seconds) {
  auto url = parse_http_url(url_text);
  if (!url) die(url.error().message());
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  const auto endpoints = resolver.resolve(url->host, std::to_string(url->port));
  const std::string request = "GET /api/v1/events HTTP/1.1\r\nHost: " + url->host_header() +
                              "\r\nAuthorization: Bearer " + token + "\r\nAccept: text/event-stream\r\n\r\n";
  std::vector<std::unique_ptr<Stream>> all;
  for (int i = 0; i < streams; ++i) {
    auto s = std::make_unique<Stream>(ioc);
    net::connect(s->socket, endpoints);
    net::write(s->socket, net::buffer(request));
    read_more(*s);
    all.push_back(std::move(s));
  }
  std::thread io([&] { ioc.run(); });
  auto client = HttpClient::create(url_text);
  if (!client) die(client.error().message());
  const HttpHeaders auth{{"Authorization", "Bearer " + token}};
  // Every stream has its head (subscribed) before the first change.
  const auto subscribed = [&] { return std::all_of(all.begin(), all.end(), [](const auto& s) { return s->in_body; }); };
  for (auto deadline = Clock::now() + std::chrono::seconds(60); !subscribed();
       std::this_thread::sleep_for(std::chrono::milliseconds(20))) {
    if (Clock::now() > deadline) die("not every stream was answered within 60 s");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  std::vector<double> delays;
  for (int e = 0; e < events; ++e) {
    const auto sent = Clock::now();
    auto response =
        (*client)->request("PATCH", "/api/v1/apps/bench-app-0", R"({"name":"sse )" + std::to_string(e) + R"("})", auth);
    if (!response || response->status != 200) die("PATCH failed: " + (response ? response->body : ""));
    auto applied = Json::parse(response->body, nullptr, false);
    // Wait until every stream has an event at least as new as the change.
    const auto deadline = sent + std::chrono::seconds(30);
    int64_t target = 0;
    for (const auto& s : all) target = std::max(target, s->last_seq.load());
    for (;;) {
      bool all_in = true;
      for (const auto& s : all) {
        if (s->arrived_ns.load() < sent.time_since_epoch().count()) all_in = false;
      }
      if (all_in) break;
      if (Clock::now() > deadline) die("an event did not reach every stream within 30 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    for (const auto& s : all) {
      delays.push_back(static_cast<double>(s->arrived_ns.load() - sent.time_since_epoch().count()) / 1e6);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  const ProcStat loaded = proc_stat(api_pid);
  // Idle: streams open, nothing happening (keep-alives only).
  const ProcStat before = proc_stat(api_pid);
  std::this_thread::sleep_for(std::chrono::duration<double>(idle_seconds));
  const ProcStat after = proc_stat(api_pid);
  const double idle_cpu_pct = (after.cpu_seconds - before.cpu_seconds) / idle_seconds * 100.0;
  ioc.stop();
  io.join();
  return Json{{"streams", streams},
              {"events", events},
              {"fanout_p50_ms", percentile(delays, 50)},
              {"fanout_p99_ms", percentile(delays, 99)},
              {"fanout_max_ms", percentile(delays, 100)},
              {"rss_mib", loaded.rss_mib},
              {"idle_cpu_pct", idle_cpu_pct},
              {"idle_seconds", idle_seconds}};
}

}  // namespace
}  // namespace dc::bench

int main(int argc, char** argv) {
  using namespace dc::bench;
  CLI::App app{"dc-api-bench: dc-api's benchmarks (see scripts/bench-api.sh)"};
  app.require_subcommand(1);
  std::string url;
  std::string token_file;
  std::string db_url;
  int rabbit_port = 5672;
  std::string exchange = "dc_commands";
  int count = 2000;
  int threads = 4;
  int clients = 16;
  int apps = 100;
  double rate = 500;
  double duration = 10;
  int streams = 1000;
  int events = 5;
  int api_pid = 0;
  double idle = 10;

  auto* direct = app.add_subcommand("direct", "the issuing layer called directly");
  direct->add_option("--db-url", db_url)->required();
  direct->add_option("--rabbit-port", rabbit_port)->required();
  direct->add_option("--exchange", exchange);
  direct->add_option("--count", count);
  direct->add_option("--threads", threads);
  direct->add_option("--apps", apps);
  auto* http = app.add_subcommand("http", "POST /api/v1/commands back to back");
  auto* latency = app.add_subcommand("latency", "POST /api/v1/commands at a fixed rate");
  auto* sse = app.add_subcommand("sse", "event streams");
  for (auto* cmd : {http, latency, sse}) {
    cmd->add_option("--url", url)->required();
    cmd->add_option("--token-file", token_file)->required();
    cmd->add_option("--apps", apps);
  }
  http->add_option("--count", count);
  http->add_option("--clients", clients);
  latency->add_option("--rate", rate);
  latency->add_option("--duration", duration);
  sse->add_option("--streams", streams);
  sse->add_option("--events", events);
  sse->add_option("--api-pid", api_pid)->required();
  sse->add_option("--idle", idle);
  CLI11_PARSE(app, argc, argv);

  Json result;
  if (direct->parsed()) {
    dc::Config config;
    config.db_url = db_url;
    config.rabbit_host = "127.0.0.1";
    config.rabbit_port = rabbit_port;
    config.rabbit_hosts = {{"127.0.0.1", rabbit_port}};
    config.rabbit_exchange = exchange;
    result = run_direct(config, threads, count, apps);
  } else if (http->parsed()) {
    result = run_http(url, read_token(token_file), clients, count, apps);
  } else if (latency->parsed()) {
    result = run_latency(url, read_token(token_file), rate, duration, apps);
  } else {
    result = run_sse(url, read_token(token_file), streams, events, api_pid, idle);
  }
  std::cout << result.dump() << '\n';
  return 0;
}
