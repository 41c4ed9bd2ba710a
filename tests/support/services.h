// Where the real services of the integration tests are. Started by
// scripts/rabbitmq-local.sh and scripts/postgres-local.sh, which write
// build/services/*.env; `make test` sources those files before ctest, and a
// developer can point the suite at their own broker or database by setting
// the same variables:
//   DC_TEST_RABBIT_HOST, DC_TEST_RABBIT_PORT      AMQP listener
//   DC_TEST_RABBITMQCTL                           a command line for rabbitmqctl on that node
//   DC_TEST_PG_URL                                postgresql://user@127.0.0.1:port/db
// DC_REQUIRE_SERVICES=1 turns a missing service into a test failure.
#pragma once

#include <optional>
#include <string>

namespace dc::test {

// The value of an environment variable, or nullopt when unset or empty.
std::optional<std::string> env(const char* name);

// True when DC_REQUIRE_SERVICES=1.
bool services_required();

struct RabbitEndpoint {
  std::string host;
  int port = 0;
};
std::optional<RabbitEndpoint> rabbit_endpoint();

// The AMQP port for a test's private broker node: the shared test broker's
// port (DC_TEST_RABBIT_PORT) plus `offset`, so that tests running at the
// same time never collide. Offsets in use, one owner each: 4 e2e fallback,
// 5 broker restart, 6-7 TLS, 8 task broker test, 9 worker test, 10-11 dc-api
// edges (SQLite, PostgreSQL), 12 browser tests (tests/browser/run.sh), 13-15
// the demo (tests/demo/run_demo.sh: broker, metrics, API).
// Suites side by side need DC_RABBIT_PORTs 20 apart. Falls back to
// 56720 + offset when no shared broker is configured.
int private_broker_port(int offset);
std::optional<std::string> postgres_url();

// Runs `command` through /bin/sh (test scaffolding only), returns exit status
// and captures stdout into `output` when given.
int run_shell(const std::string& command, std::string* output = nullptr);

}  // namespace dc::test

// Skips the current test (or fails it under DC_REQUIRE_SERVICES=1) when the
// broker / database is not configured. Use at the top of a test body or SetUp.
#define DC_REQUIRE_RABBIT()                                                                \
  do {                                                                                     \
    if (!::dc::test::rabbit_endpoint()) {                                                  \
      if (::dc::test::services_required()) FAIL() << "DC_TEST_RABBIT_HOST/PORT not set";   \
      GTEST_SKIP() << "no broker: run scripts/rabbitmq-local.sh start and source its env"; \
    }                                                                                      \
  } while (0)

#define DC_REQUIRE_POSTGRES()                                                                \
  do {                                                                                       \
    if (!::dc::test::postgres_url()) {                                                       \
      if (::dc::test::services_required()) FAIL() << "DC_TEST_PG_URL not set";               \
      GTEST_SKIP() << "no database: run scripts/postgres-local.sh start and source its env"; \
    }                                                                                        \
  } while (0)
