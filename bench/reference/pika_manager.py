#!/usr/bin/python3
"""Reference manager: the design note's consumer written the way a competent
Python developer would, for the drain benchmark's comparison with dc-manager.

Per delivery, the same work dc-manager does for ENABLE/DISABLE on the broker
path, against the same SQLite schema (the database dc's store created):
  1. parse the JSON body (poison -> basic_reject(requeue=False));
     command id = message_id, else body "command_id", else a hash of the body
  2. one write transaction (BEGIN IMMEDIATE):
       look up the app (unknown -> row NOT_EXECUTED; another manager's -> skip)
       dedupe: an existing finished or claimed row for (cmd_id, app) -> no-op
       per-app order: run older PENDING rows of the app first
       claim + finish: insert (or update) the commands row as EXECUTED by us
       update the app's `disable` and its command mirror (cmd, cmd_flag, ...)
     COMMIT
  3. log one line per command (dc-manager logs one too)
  4. basic_ack
SQLite is opened as dc's store opens it (WAL, synchronous=FULL, busy
timeout), so both pay the same price per commit. The one design difference
is deliberate and the natural Python choice: claim and outcome are committed
in ONE transaction (ENABLE/DISABLE have no effect outside the database),
where dc-manager commits the claim before carrying a command out (needed for
START/STOP, whose effect is a process).

Prints {"start_us": ...} on stdout once consuming; runs until SIGTERM.
"""
import argparse
import datetime
import hashlib
import json
import logging
import os
import sqlite3
import sys
import time
import uuid

import pika

COMMAND_NAMES = {"START": 1, "STOP": 2, "RESTART": 3, "ENABLE": 4, "DISABLE": 5}


def db_time(t=None):
    """dc's time format: ISO-8601 UTC with exactly six fractional digits."""
    t = datetime.datetime.now(datetime.timezone.utc) if t is None else t
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Poison(ValueError):
    pass


def parse(body, message_id):
    try:
        msg = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise Poison(f"not JSON: {e}") from e
    if not isinstance(msg, dict):
        raise Poison("not a JSON object")
    app_id = msg.get("app_id")
    if not isinstance(app_id, str) or not app_id:
        raise Poison("app_id missing or not a string")
    command = msg.get("command")
    if isinstance(command, str):
        command = COMMAND_NAMES.get(command.upper())
    if not isinstance(command, int) or isinstance(command, bool) or not 1 <= command <= 5:
        raise Poison("command missing or unknown")
    cmd_id = message_id or msg.get("command_id") or str(uuid.UUID(hashlib.sha256(body).hexdigest()[:32]))
    args = msg.get("args", {})
    if not isinstance(args, dict):
        raise Poison("args is not an object")
    return {
        "cmd_id": cmd_id,
        "app_id": app_id,
        "command": command,
        "issued_by": msg.get("issued_by", ""),
        "issued_at": msg.get("timestamp") or db_time(),
        "args": json.dumps(args, separators=(",", ":")),
    }


class ReferenceManager:
    def __init__(self, db_path, name):
        self.name = name
        self.db = sqlite3.connect(db_path, isolation_level=None, timeout=10.0)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")

    def apply(self, cmd, app_row):
        """Carries out ENABLE/DISABLE on the app row; returns (flag, result)."""
        if cmd["command"] == 4:
            return 1, "enabled", 0
        if cmd["command"] == 5:
            return 1, "disabled", 1
        # Process commands are out of this benchmark's scope (no process is
        # started in it); record them honestly rather than pretend.
        return 2, "process commands not supported by the reference manager", app_row[1]

    def execute(self, cmd):
        """One transaction: dedupe, order, claim + outcome, app mirror."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            app = db.execute("SELECT manager, disable FROM apps WHERE app_id = ?", (cmd["app_id"],)).fetchone()
            now = db_time()
            if app is None:
                db.execute(
                    "INSERT INTO commands (cmd_id, app_id, target, command, args, issued_by, issued_at, flag,"
                    " claimed_by, claimed_at, executed_at, result, path) VALUES (?,?,?,?,?,?,?,2,?,?,?,?, 'broker')"
                    " ON CONFLICT (cmd_id, app_id) DO NOTHING",
                    (cmd["cmd_id"], cmd["app_id"], cmd["app_id"], cmd["command"], cmd["args"], cmd["issued_by"],
                     cmd["issued_at"], self.name, now, now, f"unknown app '{cmd['app_id']}'"))
                db.execute("COMMIT")
                return "NOT_EXECUTED"
            if app[0] != self.name:
                db.execute("COMMIT")
                return "other manager"
            row = db.execute("SELECT seq, flag, claimed_by FROM commands WHERE cmd_id = ? AND app_id = ?",
                             (cmd["cmd_id"], cmd["app_id"])).fetchone()
            if row is not None and (row[1] != 0 or row[2] is not None):
                db.execute("COMMIT")
                return "duplicate"
            seq = row[0] if row is not None else sys.maxsize
            older = db.execute(
                "SELECT cmd_id, command, issued_by, args FROM commands"
                " WHERE app_id = ? AND seq < ? AND flag = 0 AND claimed_by IS NULL ORDER BY seq",
                (cmd["app_id"], seq)).fetchall()
            todo = [dict(cmd_id=o[0], command=o[1], issued_by=o[2], args=o[3], existing=True) for o in older]
            todo.append(dict(cmd, existing=row is not None))
            for c in todo:
                flag, result, disable = self.apply(c, app)
                app = (app[0], disable)
                if c["existing"]:
                    db.execute(
                        "UPDATE commands SET flag = ?, claimed_by = ?, claimed_at = ?, executed_at = ?, result = ?,"
                        " path = 'broker' WHERE cmd_id = ? AND app_id = ?",
                        (flag, self.name, now, now, result, c["cmd_id"], cmd["app_id"]))
                else:
                    db.execute(
                        "INSERT INTO commands (cmd_id, app_id, target, command, args, issued_by, issued_at, flag,"
                        " claimed_by, claimed_at, executed_at, result, path) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'broker')",
                        (c["cmd_id"], cmd["app_id"], cmd["app_id"], c["command"], c["args"], c["issued_by"],
                         c["issued_at"], flag, self.name, now, now, result))
                db.execute(
                    "UPDATE apps SET disable = ?, cmd = ?, cmd_flag = ?, cmd_id = ?, cmd_issued_by = ?, cmd_args = ?,"
                    " cmd_result = ? WHERE app_id = ?",
                    (disable, c["command"], flag, c["cmd_id"], c["issued_by"], c["args"], result, cmd["app_id"]))
            db.execute("COMMIT")
            return "EXECUTED"
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def on_message(self, channel, method, properties, body):
        try:
            cmd = parse(body, properties.message_id)
        except Poison as e:
            logging.warning("poison message %s: %s; dead-lettered", properties.message_id, e)
            channel.basic_reject(method.delivery_tag, requeue=False)
            return
        outcome = self.execute(cmd)
        logging.info("command %s %s %s: %s via broker", cmd["command"], cmd["app_id"], cmd["cmd_id"], outcome)
        channel.basic_ack(method.delivery_tag)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--queue", required=True, help="the manager's queue and name")
    parser.add_argument("--prefetch", type=int, default=1)
    parser.add_argument("--db", required=True, help="SQLite file made by dc's store")
    parser.add_argument("--log-file", required=True)
    args = parser.parse_args()

    logging.basicConfig(filename=args.log_file, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    manager = ReferenceManager(args.db, args.queue)
    connection = pika.BlockingConnection(pika.ConnectionParameters(host=args.host, port=args.port))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=args.prefetch)
    channel.basic_consume(args.queue, manager.on_message, auto_ack=False)
    print(json.dumps({"start_us": int(time.time() * 1_000_000)}), flush=True)
    logging.info("consuming queue %s (pid %d)", args.queue, os.getpid())
    channel.start_consuming()


if __name__ == "__main__":
    main()
