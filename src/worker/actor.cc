#include "worker/actor.h"

#include <exception>
#include <set>

namespace dc::worker {
namespace {

class FunctionActor final : public Actor {
 public:
  FunctionActor(ActorSpec spec, TaskFunction function) : Actor(std::move(spec)), function_(std::move(function)) {}

  AttemptResult run(const TaskContext& context) const override {
    Result<tasks::Json> outcome = Error(Errc::internal, "not run");
    try {
      outcome = function_(context);
    } catch (const std::exception& e) {
      return AttemptResult::failed("actor '" + spec().name + "' threw an exception: " + e.what());
    } catch (...) {
      return AttemptResult::failed("actor '" + spec().name + "' threw a non-standard exception");
    }
    if (context.cancel_requested()) return AttemptResult::interrupted();
    if (context.expired()) {
      return AttemptResult::failed("TimeLimitExceeded: actor '" + spec().name + "' ran past its time limit");
    }
    if (!outcome) return AttemptResult::failed(outcome.error().message());
    return AttemptResult::ok(std::move(*outcome));
  }

 private:
  TaskFunction function_;
};

}  // namespace

std::unique_ptr<Actor> make_function_actor(ActorSpec spec, TaskFunction function) {
  return std::make_unique<FunctionActor>(std::move(spec), std::move(function));
}

Status ActorRegistry::add(std::unique_ptr<Actor> actor) {
  const ActorSpec& spec = actor->spec();
  if (spec.name.empty()) return Error(Errc::invalid_argument, "an actor needs a name");
  if (std::string problem = tasks::queue_name_problem(spec.queue); !problem.empty()) {
    return Error(Errc::invalid_argument, "actor '" + spec.name + "': " + problem);
  }
  if (actors_.contains(spec.name)) return Error(Errc::conflict, "actor '" + spec.name + "' is registered twice");
  std::string name = spec.name;
  actors_.emplace(std::move(name), std::move(actor));
  return ok_status();
}

const Actor* ActorRegistry::find(std::string_view name) const {
  auto it = actors_.find(name);
  return it == actors_.end() ? nullptr : it->second.get();
}

std::vector<std::string> ActorRegistry::queues() const {
  std::set<std::string> names;
  for (const auto& [name, actor] : actors_) names.insert(actor->spec().queue);
  return {names.begin(), names.end()};
}

}  // namespace dc::worker
