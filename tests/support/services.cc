#include "support/services.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>

namespace dc::test {

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

bool services_required() { return env("DC_REQUIRE_SERVICES").value_or("0") == "1"; }

std::optional<RabbitEndpoint> rabbit_endpoint() {
  auto host = env("DC_TEST_RABBIT_HOST");
  auto port = env("DC_TEST_RABBIT_PORT");
  if (!host || !port) return std::nullopt;
  return RabbitEndpoint{*host, std::atoi(port->c_str())};
}

int private_broker_port(int offset) {
  auto shared = rabbit_endpoint();
  return (shared ? shared->port : 56720) + offset;
}

std::optional<std::string> postgres_url() { return env("DC_TEST_PG_URL"); }

int run_shell(const std::string& command, std::string* output) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) {
    if (output != nullptr) output->append(buf.data(), n);
  }
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace dc::test
