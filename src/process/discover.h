// Finding app processes a manager started, from /proc, without any record of
// them. A manager killed between starting an app and recording its pid
// leaves such a process behind; on restart it is found here and adopted
// instead of being started a second time (effect once, SPEC §6.2).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "process/process_handle.h"

namespace dc {

struct DiscoveredApp {
  ProcessHandle process;
  std::string app_id;      // DC_APP_ID of its environment
  std::string command_id;  // DC_COMMAND_ID: the command that started it
};

// Live (not zombie) processes that lead their own process group and carry
// DC_MANAGER=`manager` in their environment, i.e. apps spawn() started for
// that manager. Children of an app inherit its environment but not its group
// leadership, so they are not returned. Processes whose environment cannot
// be read (another user's) are skipped.
std::vector<DiscoveredApp> find_app_processes(std::string_view manager);

}  // namespace dc
