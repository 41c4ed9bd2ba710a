// A program outside dc's source tree, built against an installed dc (the
// CMake package or pkg-config): registers an app, issues START for it
// through the public issuing API (recorded in the database, then published
// with confirms), and enqueues a task (Dramatiq wire format). Prints
//   command <id>
//   task <message id>
// and exits 0, or says what failed and exits 1.
//   usage: issue_one DB_URL RABBIT_HOST RABBIT_PORT MANAGER APP_ID TASK_QUEUE
#include <iostream>
#include <string>

#include "base/version.h"
#include "config/config.h"
#include "source/broker_settings.h"
#include "source/issue.h"
#include "store/store.h"
#include "tasks/enqueue.h"

namespace {

int fail(const std::string& what) {
  std::cerr << "issue_one: " << what << '\n';
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) return fail("usage: issue_one DB_URL RABBIT_HOST RABBIT_PORT MANAGER APP_ID TASK_QUEUE");
  const std::string manager = argv[4];
  const std::string app_id = argv[5];
  const std::string task_queue = argv[6];

  dc::ConfigSources sources;
  sources.flags = {{"db_url", argv[1]}, {"rabbit_host", argv[2]}, {"rabbit_port", argv[3]}};
  auto config = dc::load_config(sources);
  if (!config) return fail(config.error().message());

  auto store = dc::Store::open(config->db_url);
  if (!store) return fail(store.error().message());
  dc::App app;
  app.app_id = app_id;
  app.name = "library test app";
  app.manager = manager;
  app.exec = {"/bin/true"};
  if (auto st = (*store)->add_app(app); !st) return fail(st.error().message());

  dc::IssueRequest request;
  request.name = dc::CmdName::start;
  request.app_id = app_id;
  request.issued_by = "library-test (dc " + std::string(dc::kVersion) + ")";
  auto report = dc::issue_command(**store, *config, request);
  if (!report) return fail(report.error().message());
  if (!report->published) return fail("recorded but not published: " + report->publish_detail);
  std::cout << "command " << report->command.id << std::endl;

  auto enqueuer = dc::tasks::TaskEnqueuer::connect(dc::connection_settings(*config, "dc library test"));
  if (!enqueuer) return fail(enqueuer.error().message());
  auto message = enqueuer->enqueue(dc::tasks::make_task_message(task_queue, "collect", dc::tasks::Json::array({1, 2})));
  if (!message) return fail(message.error().message());
  std::cout << "task " << message->message_id << std::endl;
  return 0;
}
