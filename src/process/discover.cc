#include "process/discover.h"

#include <dirent.h>

#include <charconv>
#include <memory>

#include "base/file.h"

namespace dc {
namespace {

// The value of `name` in a NUL-separated environment block, or "".
std::string_view env_value(std::string_view environ_block, std::string_view name) {
  size_t pos = 0;
  while (pos < environ_block.size()) {
    size_t end = environ_block.find('\0', pos);
    if (end == std::string_view::npos) end = environ_block.size();
    const std::string_view entry = environ_block.substr(pos, end - pos);
    if (entry.size() > name.size() && entry.substr(0, name.size()) == name && entry[name.size()] == '=') {
      return entry.substr(name.size() + 1);
    }
    pos = end + 1;
  }
  return {};
}

// A process environment larger than this is no app of ours.
constexpr size_t kMaxEnvironBytes = size_t{1} << 20;

}  // namespace

std::vector<DiscoveredApp> find_app_processes(std::string_view manager) {
  std::vector<DiscoveredApp> found;
  std::unique_ptr<DIR, int (*)(DIR*)> proc(::opendir("/proc"), ::closedir);
  if (!proc) return found;
  while (const dirent* entry = ::readdir(proc.get())) {
    const std::string_view name(entry->d_name);
    pid_t pid = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec != std::errc() || end != name.data() + name.size() || pid <= 1) continue;
    const auto stat = detail::read_proc_stat(pid);
    if (!stat || stat->state == 'Z' || stat->state == 'X' || stat->process_group != pid) continue;
    // Unreadable (another user's process, gone meanwhile): not one of ours.
    const auto read = read_small_file("/proc/" + std::string(name) + "/environ", kMaxEnvironBytes);
    const std::string block = read ? *read : std::string();
    if (env_value(block, "DC_MANAGER") != manager) continue;
    const std::string_view app_id = env_value(block, "DC_APP_ID");
    if (app_id.empty()) continue;
    found.push_back(DiscoveredApp{ProcessHandle{pid, stat->start_time}, std::string(app_id),
                                  std::string(env_value(block, "DC_COMMAND_ID"))});
  }
  return found;
}

}  // namespace dc
