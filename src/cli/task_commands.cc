#include "cli/task_commands.h"

#include <CLI/CLI.hpp>

#include <iostream>
#include <set>

#include "base/host.h"
#include "base/time.h"
#include "cli/views.h"
#include "source/broker_settings.h"
#include "tasks/dead_letters.h"
#include "tasks/enqueue.h"
#include "tasks/topology.h"

namespace dc {
namespace {

int fail(const Error& error) {
  std::cerr << "dcctl task: " << error.message() << '\n';
  if (error.code() == Errc::invalid_argument) return kExitUsage;
  if (error.code() == Errc::unavailable || error.code() == Errc::timeout) return kExitBrokerUnavailable;
  return kExitFailed;
}

Result<tasks::Json> parse_json(const std::string& text, const std::string& flag, bool want_array) {
  tasks::Json value = tasks::Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || (want_array && !value.is_array()) || (!want_array && !value.is_object())) {
    return Error(Errc::invalid_argument, flag + ": expected a JSON " + (want_array ? "array" : "object") + ", e.g. " +
                                             (want_array ? "'[1, \"two\"]'" : "'{\"key\": 1}'"));
  }
  return value;
}

std::string format_ms(int64_t ms) { return format_iso8601(from_unix_micros(ms * 1000)); }

}  // namespace

struct TaskCommands::Options {
  CLI::App* task = nullptr;
  CLI::App* send = nullptr;
  CLI::App* queues = nullptr;
  CLI::App* dead_list = nullptr;
  CLI::App* dead_requeue = nullptr;
  CLI::App* dead_purge = nullptr;
  std::string queue;
  std::string actor;
  std::string args = "[]";
  std::string kwargs = "{}";
  std::optional<int64_t> delay_ms;
  std::vector<std::string> option_pairs;
  bool wait_confirm = false;
  bool json_out = false;
  bool no_headers = false;
  std::vector<std::string> queue_list;
  size_t limit = 100;
  bool all = false;
  std::string message_id;
};

TaskCommands::TaskCommands(CLI::App& app) : options_(std::make_unique<Options>()) {
  Options& o = *options_;
  o.task = app.add_subcommand("task", "Pipeline tasks (Dramatiq wire format): send, queues, dead letters");
  o.task->require_subcommand(1);
  o.send = o.task->add_subcommand("send", "Enqueue one task message and print its message id");
  o.send->fallthrough();
  o.send->add_option("QUEUE", o.queue, "Queue name (Dramatiq's queue_name, e.g. default)")->required();
  o.send->add_option("ACTOR", o.actor, "Actor name")->required();
  o.send->add_option("--args", o.args, "Positional arguments, a JSON array (default [])");
  o.send->add_option("--kwargs", o.kwargs, "Keyword arguments, a JSON object (default {})");
  o.send->add_option("--delay", o.delay_ms, "Run no earlier than MS milliseconds from now (via QUEUE.DQ)")
      ->check(CLI::Range(int64_t{0}, int64_t{604'800'000}));
  o.send->add_option("--option", o.option_pairs,
                     "Message option K=V (V as JSON when it parses, else a string), e.g. max_retries=3; repeatable");
  o.send->add_flag("--wait-confirm", o.wait_confirm,
                   "Wait for the broker's publisher confirm (always done: dcctl never reports an unconfirmed send)");
  o.send->add_flag("--json", o.json_out, "Print the message as sent (JSON) instead of its id");

  o.queues = o.task->add_subcommand("queues", "Ready, delayed and dead message counts of task queues");
  o.queues->fallthrough();
  o.queues->add_option("QUEUE", o.queue_list,
                       "Queues to show (default: the queues of worker_queues and of the [actors.*] tables)");
  o.queues->add_flag("--json", o.json_out, "Print one JSON document");
  o.queues->add_flag("-q,--no-headers", o.no_headers, "Print the rows without the header line and the note");

  auto* dead = o.task->add_subcommand("dead", "Dead letters of a task queue (QUEUE.XQ)");
  dead->require_subcommand(1);
  o.dead_list = dead->add_subcommand("list", "List dead letters with their traceback, oldest first");
  o.dead_list->fallthrough();
  o.dead_list->add_option("QUEUE", o.queue, "Queue name")->required();
  o.dead_list->add_option("--limit", o.limit, "At most this many (default 100)")->check(CLI::Range(1, 65535));
  o.dead_list->add_flag("--json", o.json_out, "Print one JSON document");
  o.dead_requeue = dead->add_subcommand("requeue", "Move dead letters back to QUEUE as fresh attempts");
  o.dead_requeue->fallthrough();
  o.dead_requeue->add_option("QUEUE", o.queue, "Queue name")->required();
  o.dead_requeue->add_option("MESSAGE_ID", o.message_id, "The dead letter to requeue");
  o.dead_requeue->add_flag("--all", o.all, "Requeue every dead letter of QUEUE");
  o.dead_purge = dead->add_subcommand("purge", "Drop every dead letter of QUEUE");
  o.dead_purge->fallthrough();
  o.dead_purge->add_option("QUEUE", o.queue, "Queue name")->required();
}

TaskCommands::~TaskCommands() = default;

bool TaskCommands::parsed() const { return options_->task->parsed(); }

int TaskCommands::run(const Config& config) {
  Options& o = *options_;
  const broker::ConnectionSettings settings = connection_settings(config, "dcctl task " + host_name());
  tasks::TaskQueueOptions queue_options;
  queue_options.max_priority = config.task_max_priority;

  if (o.send->parsed()) {
    if (std::string problem = tasks::queue_name_problem(o.queue); !problem.empty()) {
      return fail(Error(Errc::invalid_argument, problem));
    }
    auto args = parse_json(o.args, "--args", true);
    if (!args) return fail(args.error());
    auto kwargs = parse_json(o.kwargs, "--kwargs", false);
    if (!kwargs) return fail(kwargs.error());
    tasks::Json options = tasks::Json::object();
    for (const std::string& pair : o.option_pairs) {
      const size_t eq = pair.find('=');
      if (eq == std::string::npos || eq == 0) {
        return fail(Error(Errc::invalid_argument, "--option '" + pair + "': write KEY=VALUE, e.g. max_retries=3"));
      }
      const std::string value_text = pair.substr(eq + 1);
      tasks::Json value = tasks::Json::parse(value_text, nullptr, /*allow_exceptions=*/false);
      options[pair.substr(0, eq)] = value.is_discarded() ? tasks::Json(value_text) : value;
    }
    tasks::TaskMessage message =
        tasks::make_task_message(o.queue, o.actor, std::move(*args), std::move(*kwargs), std::move(options));
    // The message must be one a worker accepts: check it as a worker would.
    if (auto checked =
            tasks::decode_task_message(tasks::encode_task_message(message), static_cast<size_t>(config.task_max_body));
        !checked) {
      return fail(checked.error());
    }
    auto enqueuer = tasks::TaskEnqueuer::connect(settings, queue_options);
    if (!enqueuer) return fail(enqueuer.error());
    tasks::EnqueueOptions enqueue_options;
    enqueue_options.delay_ms = o.delay_ms;
    auto sent = enqueuer->enqueue(std::move(message), enqueue_options);
    if (!sent) return fail(sent.error());
    if (o.json_out) {
      std::cout << tasks::task_message_to_json(*sent).dump(2) << '\n';
    } else {
      std::cout << sent->message_id << '\n';
    }
    return kExitOk;
  }

  if (o.queues->parsed()) {
    std::vector<std::string> names = o.queue_list;
    if (names.empty()) {
      std::set<std::string> configured(config.worker_queues.begin(), config.worker_queues.end());
      for (const ActorConfig& actor : config.actors) configured.insert(actor.queue);
      if (configured.empty()) configured.insert("default");
      names.assign(configured.begin(), configured.end());
    }
    auto conn = broker::Connection::open(settings);
    if (!conn) return fail(conn.error());
    nlohmann::json out = nlohmann::json::array();
    std::vector<std::vector<std::string>> rows;
    int status = kExitOk;
    for (const std::string& name : names) {
      if (std::string problem = tasks::queue_name_problem(name); !problem.empty()) {
        return fail(Error(Errc::invalid_argument, problem));
      }
      auto counts = tasks::task_queue_counts(*conn, name);
      if (!counts) {
        if (counts.error().code() != Errc::not_found) return fail(counts.error());
        out.push_back({{"queue", name}, {"exists", false}});
        rows.push_back({name, "-", "-", "-", "-", "not declared yet"});
        continue;
      }
      out.push_back({{"queue", name},
                     {"exists", true},
                     {"ready", counts->ready},
                     {"delayed", counts->delayed},
                     {"dead", counts->dead},
                     {"consumers", counts->consumers},
                     {"delay_consumers", counts->delay_consumers}});
      rows.push_back({name, std::to_string(counts->ready), std::to_string(counts->delayed),
                      std::to_string(counts->dead), std::to_string(counts->consumers), ""});
    }
    if (o.json_out) {
      std::cout << out.dump(2) << '\n';
    } else {
      print_table(std::cout, {"QUEUE", "READY", "DELAYED", "DEAD", "CONSUMERS", "NOTE"}, rows, !o.no_headers);
      if (!o.no_headers) {
        std::cout << "(ready and delayed count messages waiting in the broker; a delayed message a worker holds "
                     "until its eta is not counted)\n";
      }
    }
    return status;
  }

  if (o.dead_list->parsed()) {
    auto letters = tasks::list_dead_letters(settings, o.queue, o.limit, static_cast<size_t>(config.task_max_body));
    if (!letters) return fail(letters.error());
    if (o.json_out) {
      nlohmann::json out = nlohmann::json::array();
      for (const tasks::DeadLetter& letter : *letters) {
        if (letter.message) {
          out.push_back(nlohmann::json::parse(tasks::encode_task_message(*letter.message)));
        } else {
          out.push_back({{"undecodable", letter.decode_error}, {"body_bytes", letter.body.size()}});
        }
      }
      std::cout << out.dump(2) << '\n';
      return kExitOk;
    }
    if (letters->empty()) std::cout << "no dead letters in " << tasks::dead_letter_queue_name(o.queue) << '\n';
    for (const tasks::DeadLetter& letter : *letters) {
      if (!letter.message) {
        std::cout << "undecodable message (" << letter.body.size() << " bytes): " << printable(letter.decode_error)
                  << "\n\n";
        continue;
      }
      const tasks::TaskMessage& m = *letter.message;
      std::cout << "message " << printable(m.message_id) << "  actor " << printable(m.actor_name) << "  retries "
                << letter.retries() << "  enqueued " << format_ms(m.message_timestamp) << '\n'
                << "  args " << printable(m.args.dump()) << "  kwargs " << printable(m.kwargs.dump()) << '\n';
      const std::string traceback = letter.traceback();
      if (traceback.empty()) {
        std::cout << "  (no traceback)\n";
      } else {
        std::cout << "  traceback:\n";
        size_t start = 0;
        while (start < traceback.size()) {
          size_t end = traceback.find('\n', start);
          if (end == std::string::npos) end = traceback.size();
          std::cout << "    " << printable(std::string_view(traceback).substr(start, end - start)) << '\n';
          start = end + 1;
        }
      }
      std::cout << '\n';
    }
    return kExitOk;
  }

  if (o.dead_requeue->parsed()) {
    if (o.all == !o.message_id.empty()) {
      return fail(Error(Errc::invalid_argument, "dead requeue: give either --all or one MESSAGE_ID"));
    }
    auto report = tasks::requeue_dead_letters(settings, o.queue, o.all ? std::string() : o.message_id, queue_options,
                                              static_cast<size_t>(config.task_max_body));
    if (!report) return fail(report.error());
    std::cout << "requeued " << report->requeued << " message(s) to " << o.queue;
    if (report->undecodable > 0) std::cout << "; left " << report->undecodable << " undecodable";
    if (report->failed > 0) std::cout << "; " << report->failed << " not confirmed by the broker (still dead)";
    std::cout << '\n';
    return report->failed > 0 ? kExitFailed : kExitOk;
  }

  if (o.dead_purge->parsed()) {
    auto purged = tasks::purge_dead_letters(settings, o.queue);
    if (!purged) return fail(purged.error());
    std::cout << "purged " << *purged << " dead letter(s) from " << tasks::dead_letter_queue_name(o.queue) << '\n';
    return kExitOk;
  }
  std::cerr << o.task->help();
  return kExitUsage;
}

}  // namespace dc
