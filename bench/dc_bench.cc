// dc-bench: the C++ side of `make bench` (scripts/bench.sh drives it; see
// docs/BENCHMARKS.md for what each figure means). Each subcommand does one
// measurement or one piece of set-up against a real broker and database and
// prints one JSON object on stdout; diagnostics go to stderr. Exit code 0 on
// success, 1 when the measurement could not be made (the message says why),
// 2 on a usage error.
//
//   bodies        writes N command messages (id + serialize_command_body JSON),
//                 one JSON object a line: the identical input of both publishers
//   reset-queue   deletes a manager queue and declares it again (empty)
//   publish       confirmed persistent publishing with dc's Publisher
//   null-consume  consumes and acks N messages with dc's Consumer, nothing else
//   latency       publishes at a fixed rate and reads executed_at back
//   fallback      issue_command() with the broker down, time to EXECUTED
//   issue         commands recorded and published through the issuing layer,
//                 one CommandIssuer (reused connection) or one connection each
//   store-loop    the store work dc-manager does for one ENABLE/DISABLE at
//                 prefetch 1, back to back on a hot CPU (no broker)
//
// Every wait is bounded by --timeout.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/endpoint.h"
#include "base/ids.h"
#include "base/time.h"
#include "broker/consumer.h"
#include "broker/publisher.h"
#include "broker/topology.h"
#include "config/config.h"
#include "protocol/command.h"
#include "source/issue.h"
#include "store/store.h"

namespace dc::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

struct BrokerFlags {
  std::string host = "127.0.0.1";
  int port = 5672;
  std::string exchange = "dc_commands";
  std::string queue_type = "classic";
  int heartbeat = 10;
};

void add_broker_flags(CLI::App& cmd, BrokerFlags& flags) {
  cmd.add_option("--host", flags.host, "broker host, or a list h:p,h:p (a cluster)");
  cmd.add_option("--port", flags.port, "broker AMQP port")->required();
  cmd.add_option("--exchange", flags.exchange, "command exchange");
  cmd.add_option("--queue-type", flags.queue_type, "rabbit_queue_type of the declared queue")
      ->check(CLI::IsMember({"classic", "quorum"}));
}

[[noreturn]] void fail(std::string_view what, const Error& error);

broker::ConnectionSettings settings_for(const BrokerFlags& flags, std::string_view name) {
  broker::ConnectionSettings s;
  auto endpoints = parse_endpoint_list(flags.host, flags.port);
  if (!endpoints) fail("--host", endpoints.error());
  s.endpoints = std::move(*endpoints);
  s.heartbeat = std::chrono::seconds(flags.heartbeat);
  s.connection_name = std::string(name);
  return s;
}

// Fails the program with a message naming what could not be done.
[[noreturn]] void fail(std::string_view what, const Error& error) {
  std::cerr << "dc-bench: " << what << ": " << error.message() << '\n';
  std::exit(1);
}

[[noreturn]] void fail(std::string_view what) {
  std::cerr << "dc-bench: " << what << '\n';
  std::exit(1);
}

template <class T>
T must(Result<T> result, std::string_view what) {
  if (!result) fail(what, result.error());
  return std::move(result).value();
}

void must(const Status& status, std::string_view what) {
  if (!status) fail(what, status.error());
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The app id of the i-th bench app: fixed width, so scripts can register the
// same names ("app-00042").
std::string app_name(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "app-%05zu", i);
  return buf;
}

// ENABLE and DISABLE alternate so that no command starts a process: the
// figures measure the command path, not fork/exec.
Command bench_command(size_t i, size_t apps) {
  Command c;
  c.id = random_uuid();
  c.app_id = app_name(i % apps);
  c.name = (i / apps) % 2 == 0 ? CmdName::disable : CmdName::enable;
  c.issued_by = "bench@localhost";
  c.issued_at = now();
  c.args_json = R"({"company_id":"123456","monitoring":true})";
  return c;
}

struct Message {
  std::string id;
  std::string body;
};

std::vector<Message> read_bodies(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("cannot read message file " + path + " (make it with: dc-bench bodies)");
  std::vector<Message> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string() || !j.contains("body") || !j["body"].is_string()) {
      fail("malformed line in " + path + ": want {\"id\": \"...\", \"body\": \"...\"}");
    }
    out.push_back({j["id"].get<std::string>(), j["body"].get<std::string>()});
  }
  return out;
}

std::vector<broker::OutgoingMessage> outgoing(const std::vector<Message>& messages, const std::string& exchange,
                                              const std::string& routing_key) {
  std::vector<broker::OutgoingMessage> out;
  out.reserve(messages.size());
  for (const auto& m : messages) {
    broker::OutgoingMessage o;
    o.exchange = exchange;
    o.routing_key = routing_key;
    o.body = m.body;
    o.message_id = m.id;
    out.push_back(std::move(o));
  }
  return out;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const auto hi = std::min(values.size() - 1, lo + 1);
  return values[lo] + (values[hi] - values[lo]) * (rank - static_cast<double>(lo));
}

// ---------------------------------------------------------------- bodies

int run_bodies(size_t count, size_t apps, const std::string& out_path) {
  std::ofstream out(out_path, std::ios::trunc);
  if (!out) fail("cannot write " + out_path);
  for (size_t i = 0; i < count; ++i) {
    const Command c = bench_command(i, apps);
    out << Json{{"id", c.id}, {"body", serialize_command_body(c)}}.dump() << '\n';
  }
  out.close();
  if (!out) fail("writing " + out_path + " failed");
  std::cout << Json{{"count", count}, {"file", out_path}}.dump() << '\n';
  return 0;
}

// ---------------------------------------------------------------- reset-queue

int run_reset_queue(const BrokerFlags& flags, const std::string& queue) {
  auto conn = must(broker::Connection::open(settings_for(flags, "dc-bench reset")), "connecting to the broker");
  must(broker::delete_queue(conn, queue), "deleting queue " + queue);
  broker::CommandTopology t;
  t.exchange = flags.exchange;
  t.queue = queue;
  t.queue_type = must(broker::parse_queue_type(flags.queue_type), "--queue-type");
  must(broker::declare_command_topology(conn, t), "declaring queue " + queue);
  std::cout << Json{{"queue", queue}, {"ready", 0}}.dump() << '\n';
  return 0;
}

// ---------------------------------------------------------------- publish

int run_publish(const BrokerFlags& flags, const std::string& queue, const std::string& bodies_path) {
  const auto messages = read_bodies(bodies_path);
  const auto batch = outgoing(messages, flags.exchange, queue);
  auto conn = must(broker::Connection::open(settings_for(flags, "dc-bench publish")), "connecting to the broker");
  // Default options: the window (max_in_flight) under test is the product's.
  auto publisher = must(broker::Publisher::create(std::move(conn)), "enabling publisher confirms");

  const auto start = Clock::now();
  const auto results = publisher.publish_batch(batch);
  const double elapsed = seconds_since(start);

  size_t confirmed = 0;
  std::string first_problem;
  for (const auto& r : results) {
    if (r.confirmed()) {
      ++confirmed;
    } else if (first_problem.empty()) {
      first_problem = std::string(to_string(r.outcome)) + ": " + r.detail;
    }
  }
  if (confirmed != batch.size()) {
    fail(std::to_string(batch.size() - confirmed) + " of " + std::to_string(batch.size()) +
         " messages not confirmed; first: " + first_problem);
  }
  std::cout
      << Json{{"count", confirmed}, {"seconds", elapsed}, {"per_s", static_cast<double>(confirmed) / elapsed}}.dump()
      << '\n';
  return 0;
}

// ---------------------------------------------------------------- null-consume

int run_null_consume(const BrokerFlags& flags, const std::string& queue, int prefetch, size_t count, double timeout_s,
                     bool ack_each) {
  auto conn = must(broker::Connection::open(settings_for(flags, "dc-bench null consumer")), "connecting to the broker");
  broker::ConsumerOptions options;
  options.queue = queue;
  options.prefetch = static_cast<uint16_t>(prefetch);
  auto consumer = must(broker::Consumer::start(std::move(conn), options), "consuming " + queue);
  const TimePoint started_at = now();
  const auto start = Clock::now();
  size_t acked = 0;
  while (acked < count) {
    if (seconds_since(start) > timeout_s) {
      fail("only " + std::to_string(acked) + " of " + std::to_string(count) + " messages arrived within " +
           std::to_string(timeout_s) + " s");
    }
    auto delivery = must(consumer.next(std::chrono::milliseconds(1000)), "receiving from " + queue);
    if (!delivery) continue;
    // By default acked as dc-manager acks: what has already arrived (up to
    // the window) with one multiple-ack, so the ceiling is for the same
    // acknowledgement traffic. --ack each: one ack per message, as a
    // consumer that settles every message on its own does.
    uint64_t last_tag = delivery->delivery_tag;
    size_t taken = 1;
    while (!ack_each && taken < static_cast<size_t>(prefetch) && acked + taken < count) {
      auto more = must(consumer.next(std::chrono::milliseconds(0)), "receiving from " + queue);
      if (!more) break;
      last_tag = more->delivery_tag;
      ++taken;
    }
    must(consumer.ack_up_to(last_tag), "acknowledging");
    acked += taken;
  }
  const double elapsed = seconds_since(start);
  std::cout << Json{{"count", acked},
                    {"start_us", to_unix_micros(started_at)},
                    {"seconds", elapsed},
                    {"per_s", static_cast<double>(acked) / elapsed}}
                   .dump()
            << '\n';
  return 0;
}

// ---------------------------------------------------------------- latency

// The newest `expected` + 1000 command rows that have an outcome, by command
// id (the latency run's rows are the newest in its private database).
std::map<std::string, CommandRecord> finished_rows(Store& store, size_t expected) {
  CommandFilter filter;
  filter.limit = static_cast<int>(expected) + 1000;
  auto rows = must(store.list_commands(filter), "reading the command log");
  std::map<std::string, CommandRecord> out;
  for (auto& r : rows) {
    if (r.flag != CmdFlag::pending && r.executed_at) out.emplace(r.cmd_id, std::move(r));
  }
  return out;
}

int run_latency(const BrokerFlags& flags, const std::string& queue, const std::string& db_url, double rate,
                size_t count, size_t apps, double timeout_s) {
  auto store = must(Store::open(db_url), "opening the store");
  auto conn = must(broker::Connection::open(settings_for(flags, "dc-bench latency")), "connecting to the broker");
  auto publisher = must(broker::Publisher::create(std::move(conn)), "enabling publisher confirms");

  std::map<std::string, TimePoint> published_at;
  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
  const auto start = Clock::now();
  size_t late = 0;
  for (size_t i = 0; i < count; ++i) {
    // Absolute schedule: a slow publish does not shift the later ones.
    const auto due = start + interval * static_cast<int64_t>(i);
    if (Clock::now() < due) {
      std::this_thread::sleep_until(due);
    } else if (Clock::now() - due > interval) {
      ++late;
    }
    const Command c = bench_command(i, apps);
    broker::OutgoingMessage m;
    m.exchange = flags.exchange;
    m.routing_key = queue;
    m.body = serialize_command_body(c);
    m.message_id = c.id;
    const TimePoint t = now();
    const auto result = publisher.publish(m);
    if (!result.confirmed()) fail("publish " + c.id + " not confirmed: " + result.detail);
    published_at.emplace(c.id, t);
  }
  const double publish_seconds = seconds_since(start);

  std::map<std::string, CommandRecord> rows;
  const auto wait_start = Clock::now();
  for (;;) {
    rows = finished_rows(*store, count);
    size_t done = 0;
    for (const auto& [id, _] : published_at) done += rows.count(id);
    if (done == count) break;
    if (seconds_since(wait_start) > timeout_s) {
      fail("only " + std::to_string(done) + " of " + std::to_string(count) + " commands finished within " +
           std::to_string(timeout_s) + " s after the last publish");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }

  std::vector<double> ms;
  size_t not_executed = 0;
  for (const auto& [id, t] : published_at) {
    const auto& row = rows.at(id);
    if (row.flag != CmdFlag::executed) ++not_executed;
    ms.push_back(static_cast<double>(to_unix_micros(*row.executed_at) - to_unix_micros(t)) / 1000.0);
  }
  if (not_executed > 0) fail(std::to_string(not_executed) + " commands were NOT_EXECUTED; check the app registry");
  std::cout << Json{{"count", count},
                    {"rate_per_s", rate},
                    {"achieved_rate_per_s", static_cast<double>(count) / publish_seconds},
                    {"late_publishes", late},
                    {"p50_ms", percentile(ms, 50)},
                    {"p90_ms", percentile(ms, 90)},
                    {"p99_ms", percentile(ms, 99)},
                    {"max_ms", *std::max_element(ms.begin(), ms.end())},
                    {"min_ms", *std::min_element(ms.begin(), ms.end())}}
                   .dump()
            << '\n';
  return 0;
}

// ---------------------------------------------------------------- fallback

int run_fallback(const std::string& db_url, int dead_port, const std::string& app_id, size_t repetitions,
                 double timeout_s) {
  auto store = must(Store::open(db_url), "opening the store");
  Config config;
  config.db_url = db_url;
  config.rabbit_host = "127.0.0.1";
  config.rabbit_port = dead_port;
  config.rabbit_hosts = {{"127.0.0.1", dead_port}};
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pause_ms(50, 400);

  std::vector<double> ms;
  for (size_t i = 0; i < repetitions; ++i) {
    // A random pause puts each command at another phase of the poll cycle.
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    IssueRequest request;
    request.name = i % 2 == 0 ? CmdName::disable : CmdName::enable;
    request.app_id = app_id;
    request.issued_by = "bench@localhost";
    const TimePoint issued = now();
    auto report = must(issue_command(*store, config, request), "issuing a command with the broker down");
    if (report.published) fail("the command was published: the broker port " + std::to_string(dead_port) + " is live");
    const auto start = Clock::now();
    for (;;) {
      auto rows = must(store->get_command(report.command.id), "reading command " + report.command.id);
      if (!rows.empty() && rows.front().flag != CmdFlag::pending && rows.front().executed_at) {
        if (rows.front().flag != CmdFlag::executed) fail("command NOT_EXECUTED: " + rows.front().result.value_or(""));
        ms.push_back(static_cast<double>(to_unix_micros(*rows.front().executed_at) - to_unix_micros(issued)) / 1000.0);
        break;
      }
      if (seconds_since(start) > timeout_s) fail("command " + report.command.id + " not executed in time");
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  std::cout << Json{{"count", ms.size()},
                    {"samples_ms", ms},
                    {"p50_ms", percentile(ms, 50)},
                    {"max_ms", *std::max_element(ms.begin(), ms.end())}}
                   .dump()
            << '\n';
  return 0;
}

// ---------------------------------------------------------------- issue

// Commands through the issuing layer (source/issue.h), record then confirmed
// publish, back to back: with one CommandIssuer, whose connection is reused,
// or with issue_command(), which connects for every command (as dcctl).
int run_issue(const BrokerFlags& flags, const std::string& db_url, size_t count, size_t apps, bool fresh) {
  auto store = must(Store::open(db_url), "opening the store");
  Config config;
  config.db_url = db_url;
  config.rabbit_hosts = {{flags.host, flags.port}};
  config.rabbit_exchange = flags.exchange;
  CommandIssuer issuer(*store, config);
  const auto start = Clock::now();
  for (size_t i = 0; i < count; ++i) {
    IssueRequest request;
    request.name = (i / apps) % 2 == 0 ? CmdName::disable : CmdName::enable;
    request.app_id = app_name(i % apps);
    request.issued_by = "bench@localhost";
    auto report = must(fresh ? issue_command(*store, config, request) : issuer.issue(request), "issuing a command");
    if (!report.published) fail("command " + report.command.id + " not published: " + report.publish_detail);
  }
  const double seconds = seconds_since(start);
  std::cout << Json{{"count", count},
                    {"connection", fresh ? "per command" : "reused"},
                    {"seconds", seconds},
                    {"per_s", static_cast<double>(count) / seconds}}
                   .dump()
            << '\n';
  return 0;
}

// ---------------------------------------------------------------- store-loop

// What dc-manager's database-only path does for a run of one command (see
// Manager::handle_deliveries): one transaction with get_app, command_place
// and claim_and_finish. Back to back, so caches stay warm: set against the
// manager's CPU per command at prefetch 1, it shows what waking for every
// message costs.
int run_store_loop(const std::string& db_url, size_t count, size_t apps) {
  auto store = must(Store::open(db_url), "opening the store");
  const auto start = Clock::now();
  for (size_t i = 0; i < count; ++i) {
    const Command command = bench_command(i, apps);
    Status st = store->in_transaction([&]() -> Status {
      auto app = store->get_app(command.app_id);
      if (!app) return app.error();
      if (!*app) return Error(Errc::not_found, "no app " + command.app_id + "; register the bench apps first");
      auto place = store->command_place(command.id, command.app_id);
      if (!place) return place.error();
      AppState state;
      state.status = (*app)->status;
      state.disable = command.name == CmdName::disable;
      FinishedCommand item;
      item.record.cmd_id = command.id;
      item.record.app_id = command.app_id;
      item.record.target = command.app_id;
      item.record.command = command.name;
      item.record.args_json = command.args_json;
      item.record.issued_by = command.issued_by;
      item.record.issued_at = command.issued_at;
      item.outcome = Outcome{CmdFlag::executed, state.disable ? "disabled" : "enabled", DeliveryPath::broker, state};
      auto claimed = store->claim_and_finish(std::span<const FinishedCommand>(&item, 1), "bench_store_loop");
      if (!claimed) return claimed.error();
      return ok_status();
    });
    if (!st) fail("store loop: " + st.error().message());
  }
  const double seconds = seconds_since(start);
  std::cout << Json{{"count", count},
                    {"seconds", seconds},
                    {"us_per_command", seconds * 1e6 / static_cast<double>(count)}}
                   .dump()
            << '\n';
  return 0;
}

int main_impl(int argc, char** argv) {
  CLI::App app{"dc-bench: measurements for make bench (see docs/BENCHMARKS.md)"};
  app.require_subcommand(1);
  BrokerFlags flags;
  std::string queue;
  std::string bodies_path;
  std::string db_url;
  size_t count = 1000;
  size_t apps = 1000;
  int prefetch = 1;
  double rate = 200;
  double timeout_s = 120;
  int dead_port = 1;
  std::string app_id = app_name(0);
  size_t repetitions = 5;

  auto* bodies = app.add_subcommand("bodies", "write N command messages, one JSON object a line");
  bodies->add_option("--count", count)->required();
  bodies->add_option("--apps", apps, "apps the commands go round (app-00000 ...)");
  bodies->add_option("--out", bodies_path)->required();

  auto* reset = app.add_subcommand("reset-queue", "delete and re-declare a manager queue");
  add_broker_flags(*reset, flags);
  reset->add_option("--queue", queue)->required();

  auto* publish = app.add_subcommand("publish", "publish the messages of --bodies, confirmed");
  add_broker_flags(*publish, flags);
  publish->add_option("--queue", queue, "routing key (a manager queue)")->required();
  publish->add_option("--bodies", bodies_path)->required();

  auto* null_consume = app.add_subcommand("null-consume", "consume and ack --count messages");
  add_broker_flags(*null_consume, flags);
  null_consume->add_option("--queue", queue)->required();
  null_consume->add_option("--prefetch", prefetch);
  null_consume->add_option("--count", count)->required();
  null_consume->add_option("--timeout", timeout_s);
  std::string ack_mode = "batch";
  null_consume->add_option("--ack", ack_mode, "batch: what has arrived with one multiple-ack (as dc-manager); each")
      ->check(CLI::IsMember({"batch", "each"}));

  auto* latency = app.add_subcommand("latency", "publish at --rate and read executed_at back");
  add_broker_flags(*latency, flags);
  latency->add_option("--queue", queue)->required();
  latency->add_option("--db-url", db_url)->required();
  latency->add_option("--rate", rate);
  latency->add_option("--count", count);
  latency->add_option("--apps", apps);
  latency->add_option("--timeout", timeout_s);

  auto* fallback = app.add_subcommand("fallback", "issue with the broker down; time to EXECUTED");
  fallback->add_option("--db-url", db_url)->required();
  fallback->add_option("--dead-port", dead_port, "a port with no broker")->required();
  fallback->add_option("--app", app_id);
  fallback->add_option("--repetitions", repetitions);
  fallback->add_option("--timeout", timeout_s);

  bool fresh = false;
  auto* issue = app.add_subcommand("issue", "record and publish --count commands through the issuing layer");
  add_broker_flags(*issue, flags);
  issue->add_option("--db-url", db_url)->required();
  issue->add_option("--count", count);
  issue->add_option("--apps", apps, "registered apps app-00000 ...");
  issue->add_flag("--fresh", fresh, "a connection per command (as dcctl) instead of one reused");

  auto* store_loop = app.add_subcommand("store-loop", "the store work of one command at prefetch 1, in a hot loop");
  store_loop->add_option("--db-url", db_url)->required();
  store_loop->add_option("--count", count);
  store_loop->add_option("--apps", apps, "registered apps app-00000 ...");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (*bodies) return run_bodies(count, apps, bodies_path);
  if (*reset) return run_reset_queue(flags, queue);
  if (*publish) return run_publish(flags, queue, bodies_path);
  if (*null_consume) return run_null_consume(flags, queue, prefetch, count, timeout_s, ack_mode == "each");
  if (*latency) return run_latency(flags, queue, db_url, rate, count, apps, timeout_s);
  if (*fallback) return run_fallback(db_url, dead_port, app_id, repetitions, timeout_s);
  if (*issue) return run_issue(flags, db_url, count, apps, fresh);
  if (*store_loop) return run_store_loop(db_url, count, apps);
  return 2;
}

}  // namespace
}  // namespace dc::bench

int main(int argc, char** argv) { return dc::bench::main_impl(argc, argv); }
