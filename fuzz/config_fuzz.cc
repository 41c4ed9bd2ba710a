// libFuzzer target: arbitrary bytes as the TOML config file, plus the same
// bytes through the host-list and URL parsers. Asserts no crash, no hang and
// the invariants a successful load promises. Links dc_config only.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/redact.h"
#include "config/config.h"

namespace {

void require(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  dc::Result<dc::Config> config = dc::load_config_from_toml_text(text, {}, "fuzz.toml");
  if (config.ok()) {
    // A loaded config always has somewhere to connect and a valid name.
    require(!config->rabbit_hosts.empty());
    for (const dc::Endpoint& host : config->rabbit_hosts) require(host.port >= 1 && host.port <= 65535);
    require(!config->rabbit_queue.empty() && config->rabbit_queue.size() <= 255);
    require(config->poll_interval > 0);
    require(config->metrics_listen.empty() || dc::parse_listen_address(config->metrics_listen).ok());
    std::string json = dc::config_to_json(*config);
    require(!json.empty() && json.front() == '{');
  } else {
    require(!config.error().message().empty());
  }

  // The parsers on their own, with the raw bytes.
  dc::Result<std::vector<dc::Endpoint>> hosts = dc::parse_endpoint_list(text, 5672);
  if (hosts.ok()) require(!hosts->empty());
  if (dc::Result<dc::Endpoint> address = dc::parse_listen_address(text); address.ok()) {
    // What parses, prints back to text that parses to the same endpoint.
    dc::Result<dc::Endpoint> again = dc::parse_listen_address(dc::to_string(*address));
    require(again.ok() && *again == *address);
  }
  std::string redacted = dc::redact_url(text);
  // Redaction only ever replaces a password with "***"; it never grows a
  // URL without one.
  std::string lowered(text);
  for (char& c : lowered) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (lowered.find('@') == std::string::npos && lowered.find("password=") == std::string::npos) {
    require(redacted == text);
  }
  (void)dc::closest_config_key(text);
  return 0;
}
