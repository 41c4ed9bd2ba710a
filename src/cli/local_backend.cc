// dcctl's direct way: the store, and the issuing layer to publish; and what
// both ways share.
#include <chrono>
#include <thread>

#include "cli/backend.h"

namespace dc {
namespace {

class LocalBackend final : public DcctlBackend {
 public:
  LocalBackend(std::unique_ptr<Store> store, Config config) : store_(std::move(store)), config_(std::move(config)) {}

  Result<IssueReport> issue(const IssueRequest& request) override { return issue_command(*store_, config_, request); }

  Status add_app(const App& app) override { return store_->add_app(app); }
  Result<std::vector<App>> list_apps(const AppFilter& filter) override { return store_->list_apps(filter); }
  Result<std::optional<App>> get_app(const std::string& app_id) override { return store_->get_app(app_id); }
  Status remove_app(const std::string& app_id) override { return store_->remove_app(app_id); }
  Result<std::vector<CommandRecord>> list_commands(const CommandFilter& filter) override {
    return store_->list_commands(filter);
  }
  Result<std::vector<CommandRecord>> get_command(const std::string& cmd_id) override {
    return store_->get_command(cmd_id);
  }
  Result<std::vector<ManagerView>> list_managers() override {
    auto managers = store_->list_managers();
    if (!managers) return managers.error();
    const TimePoint t = now();
    const auto ttl = std::chrono::milliseconds(static_cast<int64_t>(config_.lease_ttl) * 1000);
    std::vector<ManagerView> out;
    for (auto& m : *managers) {
      const bool live = manager_live(m, t, ttl);
      out.push_back(ManagerView{std::move(m), live});
    }
    return out;
  }

 private:
  std::unique_ptr<Store> store_;
  Config config_;
};

}  // namespace

Result<std::vector<CommandRecord>> DcctlBackend::wait_for_outcome(const std::string& cmd_id, double timeout_s,
                                                                  bool& timed_out) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  auto delay = std::chrono::milliseconds(20);
  for (;;) {
    auto rows = get_command(cmd_id);
    if (!rows) return rows.error();
    bool done = true;
    for (const auto& row : *rows) done = done && row.flag != CmdFlag::pending;
    timed_out = !done;
    if (done || std::chrono::steady_clock::now() >= deadline) return rows;
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(250));
  }
}

Result<std::unique_ptr<DcctlBackend>> open_local_backend(const Config& config) {
  auto store = Store::open(config.db_url);
  if (!store) return store.error();
  return std::unique_ptr<DcctlBackend>(std::make_unique<LocalBackend>(std::move(store).value(), config));
}

Result<std::unique_ptr<DcctlBackend>> open_backend(const Config& config) {
  return config.api_url.empty() ? open_local_backend(config) : open_remote_backend(config);
}

}  // namespace dc
