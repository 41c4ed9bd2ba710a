// dcctl's direct way: the store, and the issuing layer to publish; and what
// both ways share.
#include <chrono>

#include "cli/backend.h"

namespace dc {
namespace {

class LocalBackend final : public DcctlBackend {
 public:
  LocalBackend(std::unique_ptr<Store> store, Config config)
      : store_(std::move(store)), config_(std::move(config)), issuer_(*store_, config_) {}

  // One broker connection for every command of this dcctl run.
  Result<IssueReport> issue(const IssueRequest& request) override { return issuer_.issue(request); }

  Status add_app(const App& app) override { return store_->add_app(app); }
  Result<App> update_app(const std::string& app_id, const AppChanges& changes) override {
    auto current = store_->get_app(app_id);
    if (!current) return current.error();
    if (!*current) return Error(Errc::not_found, "unknown app '" + app_id + "'");
    App app = std::move(**current);
    if (changes.name) app.name = *changes.name;
    if (changes.manager) app.manager = *changes.manager;
    if (changes.exec) app.exec = *changes.exec;
    if (changes.schedule) app.schedule = *changes.schedule;
    if (auto st = store_->update_app(app); !st) return st.error();
    auto stored = store_->get_app(app_id);
    if (!stored) return stored.error();
    if (!*stored) return Error(Errc::not_found, "app '" + app_id + "' was removed meanwhile");
    return std::move(**stored);
  }
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
  std::unique_ptr<Store> store_;  // before issuer_, which uses it
  Config config_;
  CommandIssuer issuer_;
};

}  // namespace

Result<std::unique_ptr<DcctlBackend>> open_local_backend(const Config& config) {
  auto store = Store::open(config.db_url);
  if (!store) return store.error();
  return std::unique_ptr<DcctlBackend>(std::make_unique<LocalBackend>(std::move(store).value(), config));
}

Result<std::unique_ptr<DcctlBackend>> open_backend(const Config& config) {
  return config.api_url.empty() ? open_local_backend(config) : open_remote_backend(config);
}

}  // namespace dc
