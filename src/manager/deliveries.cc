#include "manager/deliveries.h"

#include <spdlog/spdlog.h>

#include "manager/decisions.h"

namespace dc {

Result<std::optional<Command>> DeliveryHandler::accept(broker::Consumer& consumer, const broker::Delivery& delivery) {
  MessageProperties props;
  props.message_id = delivery.message_id;
  props.content_type = delivery.content_type;
  props.signature = delivery.header(kSignatureHeader);
  if (delivery.timestamp) props.timestamp = to_unix_micros(*delivery.timestamp) / 1'000'000;
  const TimePoint received = now();
  std::string poison_reason;
  if (delivery.body_discarded) {
    // Refused by its declared size; its bytes were never held.
    poison_reason = "body is " + std::to_string(delivery.body_size) + " bytes (limit " + std::to_string(kMaxBodyBytes) +
                    "); discarded unread";
  }
  Result<Command> command = Error(Errc::invalid_argument, poison_reason);
  if (poison_reason.empty()) {
    command = parse_command(delivery.body, props, received);
    if (!command) {
      poison_reason = command.error().message();
    } else if (!config_.command_secrets.empty()) {
      poison_reason = signature_problem(config_.command_secrets, props.signature, props.message_id.value_or(""),
                                        delivery.routing_key, delivery.body, command->issued_at, received,
                                        std::chrono::seconds(config_.command_max_age));
    }
  }
  if (poison_reason.empty()) return std::optional<Command>(std::move(*command));
  metrics_.poison().inc();
  spdlog::warn("poison message (message_id {}, {} bytes, routing key {}): {}; dead-lettered",
               delivery.message_id.value_or("-"), delivery.body_size, delivery.routing_key, poison_reason);
  if (auto st = consumer.reject(delivery.delivery_tag, /*requeue=*/false); !st) return st.error();
  return std::optional<Command>();
}

Status DeliveryHandler::apply_one(broker::Consumer& consumer, const broker::Delivery& delivery,
                                  const Command& command) {
  auto applied = Result<CommandRunner::Disposition>(CommandRunner::Disposition{});
  Status st = runner_.with_store_retry([&]() -> Status {
    applied = runner_.apply(command, DeliveryPath::broker);
    return applied ? ok_status() : Status(applied.error());
  });
  if (!st) {
    if (st.error().code() == Errc::fenced) return st;
    if (st.error().retryable()) return ok_status();  // shutting down: unacked, the broker redelivers it
    // The command is valid but cannot be recorded (e.g. a value the
    // database refuses): dead-letter it rather than block the queue.
    metrics_.poison().inc();
    spdlog::error("command {} cannot be recorded: {}; dead-lettered", command.id, st.error().message());
    return consumer.reject(delivery.delivery_tag, false);
  }
  if (applied->dead_letter) {
    metrics_.poison().inc();
    spdlog::warn("command {}: {}; dead-lettered", command.id, applied->reason);
    return consumer.reject(delivery.delivery_tag, false);
  }
  // Ack only now: the outcome is committed.
  return consumer.ack(delivery.delivery_tag);
}

Result<bool> DeliveryHandler::add_db_only(const Command& command, DbOnlyRun& run) {
  if (!database_only(command.name)) return false;
  std::vector<std::string> targets;
  if (command.is_broadcast()) {
    auto mine = runner_.broadcast_targets(command);
    if (!mine) return mine.error();
    for (auto& app : *mine) {
      targets.push_back(app.app_id);
      run.apps.try_emplace(app.app_id, std::move(app));
    }
  } else {
    if (!run.apps.contains(command.app_id)) {
      auto app = store_.get_app(command.app_id);
      if (!app) return app.error();
      if (!*app || route_command(**app, runner_.name()) != Routing::mine) return false;  // the general path says why
      run.apps.emplace(command.app_id, std::move(**app));
    }
    targets.push_back(command.app_id);
  }
  // Every target must be able to take this path before any is added.
  std::vector<std::pair<std::string, bool>> open;  // (app_id, its row exists)
  uint64_t duplicates = 0;
  for (auto& app_id : targets) {
    runner_.keepalive();  // a broadcast to many apps is long work: keep the broker connection alive
    auto place = store_.command_place(command.id, app_id);
    if (!place) return place.error();
    switch (run_join(*place, runner_.claimer(), run.queued)) {
      case RunJoin::duplicate:
        ++duplicates;
        continue;
      case RunJoin::general_path:
        return false;
      case RunJoin::join:
        open.emplace_back(std::move(app_id), place->row.has_value());
        break;
    }
  }
  run.duplicates += duplicates;
  for (auto& [app_id, row_exists] : open) {
    App& app = run.apps.at(app_id);
    // The same plan as any other path: only the disable flag changes.
    app.disable = *plan_command(command.name, runner_.observed(app).status == AppStatus::running).set_disable;
    FinishedCommand item;
    item.record = CommandRunner::record_for(command, app_id);
    item.outcome = Outcome{CmdFlag::executed, std::string(disable_result(app.disable)), DeliveryPath::broker,
                           runner_.observed(app)};
    item.row_exists = row_exists;
    run.queued.insert({command.id, std::move(app_id)});
    run.items.push_back(std::move(item));
  }
  return true;
}

Status DeliveryHandler::handle(broker::Consumer& consumer, std::vector<broker::Delivery>& deliveries) {
  // Parse and authenticate them all first: poison is dead-lettered at once.
  std::vector<std::pair<broker::Delivery*, Command>> accepted;
  accepted.reserve(deliveries.size());
  for (auto& delivery : deliveries) {
    auto command = accept(consumer, delivery);
    if (!command) return command.error();
    if (*command) accepted.emplace_back(&delivery, std::move(**command));
  }
  size_t next = 0;
  while (next < accepted.size()) {
    if (runner_.stopping()) return ok_status();
    // The longest run of database-only commands from `next`, decided and
    // recorded in one transaction, so what was read still holds when it is
    // written.
    DbOnlyRun run;
    size_t end = next;
    std::vector<ClaimResult> results;
    Status st = runner_.with_store_retry([&] {
      return store_.in_transaction([&]() -> Status {
        run = DbOnlyRun();
        results.clear();
        for (end = next; end < accepted.size(); ++end) {
          auto added = add_db_only(accepted[end].second, run);
          if (!added) return added.error();
          if (!*added) break;
        }
        if (run.items.empty()) return ok_status();
        auto claimed = store_.claim_and_finish(run.items, runner_.claimer());
        if (!claimed) return claimed.error();
        results = std::move(*claimed);
        return ok_status();
      });
    });
    if (!st) {
      if (st.error().code() == Errc::fenced) return st;
      if (st.error().retryable()) return ok_status();  // shutting down: unacked, redelivered
      // Something in the run cannot be recorded: take each delivery alone,
      // so only the offending one is dead-lettered.
      const size_t stop = std::min(end + 1, accepted.size());
      spdlog::warn("recording {} command(s) together failed ({}); taking them one by one", stop - next,
                   st.error().message());
      for (size_t i = next; i < stop; ++i) {
        if (auto one = apply_one(consumer, *accepted[i].first, accepted[i].second); !one) return one;
      }
      next = stop;
      continue;
    }
    if (end > next) {
      if (auto acked = finish_run(consumer, run, results, accepted[end - 1].first->delivery_tag); !acked) return acked;
    }
    // A command with effects outside the database: the general path, in order.
    if (end < accepted.size()) {
      if (auto one = apply_one(consumer, *accepted[end].first, accepted[end].second); !one) return one;
      ++end;
    }
    next = end;
  }
  return ok_status();
}

Status DeliveryHandler::finish_run(broker::Consumer& consumer, const DbOnlyRun& run,
                                   const std::vector<ClaimResult>& results, uint64_t last_tag) {
  // Every earlier delivery is settled by now (acked, or rejected as
  // poison), so one multiple-ack covers the whole run. It goes first: with
  // a small prefetch window the broker sends nothing new until it arrives.
  Status acked = consumer.ack_up_to(last_tag);
  const TimePoint t = now();
  metrics_.duplicates().inc(run.duplicates);
  for (size_t i = 0; i < run.items.size(); ++i) {
    const CommandRecord& row = run.items[i].record;
    if (results[i] != ClaimResult::claimed) {
      metrics_.duplicates().inc();
      continue;
    }
    metrics_.command_finished(row.command, CmdFlag::executed, DeliveryPath::broker,
                              std::chrono::duration<double>(t - row.issued_at).count());
    spdlog::info("{} {} {}: EXECUTED via broker ({})", to_string(row.command), row.app_id, row.cmd_id,
                 run.items[i].outcome.result);
  }
  return acked;
}

}  // namespace dc
