#include "base/names.h"

#include <cctype>

namespace dc {

std::string manager_name_problem(std::string_view name) {
  const std::string quoted = "'" + std::string(name.substr(0, 80)) + (name.size() > 80 ? "...'" : "'");
  if (name.empty()) return "a manager name is empty";
  if (name.size() > 255) return quoted + " is longer than 255 bytes (a manager name names its queue)";
  for (const char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' || c == '-')) {
      return quoted + " may contain only letters, digits and _ . : -";
    }
  }
  if (name == kBroadcastRoutingKey) {
    return "'" + std::string(kBroadcastRoutingKey) +
           "' is reserved for broadcasts (every manager's queue is bound with it)";
  }
  if (name.substr(0, 4) == "amq.") return quoted + ": names starting with 'amq.' are reserved by RabbitMQ";
  return {};
}

}  // namespace dc
