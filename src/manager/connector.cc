#include "manager/connector.h"

namespace dc {

BrokerConnector::BrokerConnector(broker::ConnectionSettings settings, broker::CommandTopology topology,
                                 broker::ConsumerOptions options)
    : settings_(std::move(settings)), topology_(std::move(topology)), options_(std::move(options)) {}

BrokerConnector::~BrokerConnector() {
  if (thread_.joinable()) thread_.join();
}

Result<std::unique_ptr<broker::Consumer>> BrokerConnector::connect(std::optional<Endpoint> try_last) const {
  broker::ConnectionSettings settings = settings_;
  settings.try_last = std::move(try_last);
  auto conn = broker::Connection::open(settings);
  if (!conn) return conn.error();
  if (auto st = broker::declare_command_topology(*conn, topology_); !st) {
    return st.error().with_context("declaring the command topology");
  }
  auto consumer = broker::Consumer::start(std::move(*conn), options_);
  if (!consumer) return consumer.error().with_context("consuming queue '" + options_.queue + "'");
  return std::make_unique<broker::Consumer>(std::move(*consumer));
}

void BrokerConnector::begin(std::optional<Endpoint> try_last) {
  if (busy_.load()) return;
  if (thread_.joinable()) thread_.join();
  busy_.store(true);
  thread_ = std::thread([this, try_last = std::move(try_last)] {
    auto outcome = connect(try_last);
    std::lock_guard lock(mutex_);
    outcome_ = std::move(outcome);
    busy_.store(false);
  });
}

std::optional<Result<std::unique_ptr<broker::Consumer>>> BrokerConnector::take() {
  std::lock_guard lock(mutex_);
  return std::exchange(outcome_, std::nullopt);
}

}  // namespace dc
