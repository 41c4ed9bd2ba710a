#include "observe/build_info.h"

#include <array>
#include <string_view>

#include "base/version.h"

namespace dc {

Status register_build_info(MetricsRegistry& registry) {
  auto family = registry.gauge("dc_build_info", "The running build: always 1, its version and commit as labels",
                               {"version", "commit"});
  if (!family) return family.error();
  const std::array<std::string_view, 2> labels{kVersion, build_commit()};
  (*family)->with(labels).set(1);
  return ok_status();
}

}  // namespace dc
