#include "source/broker_settings.h"

namespace dc {

broker::ConnectionSettings connection_settings(const Config& config, std::string_view connection_name) {
  broker::ConnectionSettings s;
  s.endpoints = config.rabbit_hosts;
  s.vhost = config.rabbit_vhost;
  s.username = config.rabbit_username;
  s.password = config.rabbit_password;
  s.heartbeat = std::chrono::seconds(config.rabbit_heartbeat);
  s.tls.enabled = config.rabbit_tls;
  s.tls.ca_file = config.rabbit_tls_ca;
  s.tls.cert_file = config.rabbit_tls_cert;
  s.tls.key_file = config.rabbit_tls_key;
  s.tls.verify = config.rabbit_tls_verify;
  s.connection_name = std::string(connection_name);
  return s;
}

Result<broker::CommandTopology> command_topology(const Config& config, std::string_view queue) {
  auto type = broker::parse_queue_type(config.rabbit_queue_type);
  if (!type) return type.error();
  broker::CommandTopology t;
  t.exchange = config.rabbit_exchange;
  t.queue = std::string(queue);
  t.queue_type = *type;
  return t;
}

}  // namespace dc
