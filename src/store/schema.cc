#include "store/schema.h"

namespace dc::store_detail {

// Times are TEXT in both backends: ISO-8601 UTC with exactly six fractional
// digits ("2025-01-15T10:30:00.000000Z", see codec.h). Fixed width makes text
// order equal time order, so comparisons in SQL (lease expiry) need no date
// functions. PostgreSQL compares them with COLLATE "C" so a database created
// with a natural-language collation cannot reorder them.

std::string_view schema_version_table_sql() {
  return "CREATE TABLE IF NOT EXISTS schema_version ("
         " version INTEGER PRIMARY KEY,"
         " applied_at TEXT NOT NULL)";
}

const std::vector<Migration>& sqlite_migrations() {
  static const std::vector<Migration> migrations{
      {1,
       {
           "CREATE TABLE apps ("
           " app_id TEXT PRIMARY KEY NOT NULL,"
           " name TEXT NOT NULL DEFAULT '',"
           " manager TEXT NOT NULL,"
           " exec TEXT NOT NULL,"
           " schedule TEXT,"
           " disable INTEGER NOT NULL DEFAULT 0 CHECK (disable IN (0, 1)),"
           " status TEXT NOT NULL DEFAULT 'STOPPED'"
           "  CHECK (status IN ('STOPPED', 'STARTING', 'RUNNING', 'STOPPING', 'FAILED')),"
           " pid INTEGER,"
           " proc_start INTEGER,"
           " exit_code INTEGER,"
           " started_at TEXT,"
           " stopped_at TEXT,"
           " next_run_at TEXT,"
           " cmd INTEGER CHECK (cmd BETWEEN 1 AND 5),"
           " cmd_flag INTEGER CHECK (cmd_flag IN (0, 1, 2)),"
           " cmd_id TEXT,"
           " cmd_issued_by TEXT,"
           " cmd_args TEXT,"
           " cmd_result TEXT)",
           "CREATE INDEX apps_by_manager ON apps (manager)",
           // AUTOINCREMENT: a seq is never reused, even after the newest row
           // is deleted, so seq is a stable issue order for the audit trail.
           "CREATE TABLE commands ("
           " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
           " cmd_id TEXT NOT NULL,"
           " app_id TEXT NOT NULL,"
           " target TEXT NOT NULL,"
           " command INTEGER NOT NULL CHECK (command BETWEEN 1 AND 5),"
           " args TEXT NOT NULL DEFAULT '{}',"
           " issued_by TEXT NOT NULL DEFAULT '',"
           " issued_at TEXT NOT NULL,"
           " flag INTEGER NOT NULL DEFAULT 0 CHECK (flag IN (0, 1, 2)),"
           " claimed_by TEXT,"
           " claimed_at TEXT,"
           " executed_at TEXT,"
           " result TEXT,"
           " path TEXT CHECK (path IN ('broker', 'poll')),"
           " UNIQUE (cmd_id, app_id))",
           // Statements span lines (adjacent literals); the check takes this
           // one's for a missing comma.
           // NOLINTNEXTLINE(bugprone-suspicious-missing-comma)
           "CREATE INDEX commands_pending_by_app ON commands (app_id, seq)"
           " WHERE flag = 0 AND claimed_by IS NULL",
           "CREATE INDEX commands_claimed_unfinished ON commands (claimed_by, seq)"
           " WHERE flag = 0 AND claimed_by IS NOT NULL",
           "CREATE TABLE managers ("
           " name TEXT PRIMARY KEY NOT NULL,"
           " host TEXT NOT NULL,"
           " pid INTEGER NOT NULL,"
           " started_at TEXT NOT NULL,"
           " last_seen TEXT NOT NULL,"
           " mode TEXT NOT NULL,"
           " version TEXT NOT NULL DEFAULT '')",
       }},
      // Issue 11: instance ids for leases and claims (fencing), signatures
      // kept for the database path, registration time for broadcasts nobody
      // recorded, and whether a source recorded a row.
      {2,
       {
           "ALTER TABLE apps ADD COLUMN registered_at TEXT",
           "ALTER TABLE commands ADD COLUMN claimed_instance TEXT",
           "ALTER TABLE commands ADD COLUMN signature TEXT NOT NULL DEFAULT ''",
           "ALTER TABLE commands ADD COLUMN recorded INTEGER NOT NULL DEFAULT 1 CHECK (recorded IN (0, 1))",
           "ALTER TABLE managers ADD COLUMN instance TEXT NOT NULL DEFAULT ''",
       }},
      // Issue 13: the event log dc-api streams (written in the transaction
      // of each change it reports), whether a manager's loss of liveness
      // has been logged, and the path of an app's last command in its
      // mirror.
      {3,
       {
           "CREATE TABLE events ("
           " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
           " at TEXT NOT NULL,"
           " kind TEXT NOT NULL CHECK (kind IN ('command', 'app', 'manager')),"
           " subject TEXT NOT NULL,"
           " data TEXT NOT NULL)",
           "ALTER TABLE managers ADD COLUMN reported_live INTEGER NOT NULL DEFAULT 1 CHECK (reported_live IN (0, 1))",
           "ALTER TABLE apps ADD COLUMN cmd_path TEXT CHECK (cmd_path IN ('broker', 'poll'))",
       }},
  };
  return migrations;
}

const std::vector<Migration>& postgres_migrations() {
  static const std::vector<Migration> migrations{
      {1,
       {
           "CREATE TABLE apps ("
           " app_id TEXT PRIMARY KEY NOT NULL,"
           " name TEXT NOT NULL DEFAULT '',"
           " manager TEXT NOT NULL,"
           " exec TEXT NOT NULL,"
           " schedule TEXT,"
           " disable BOOLEAN NOT NULL DEFAULT FALSE,"
           " status TEXT NOT NULL DEFAULT 'STOPPED'"
           "  CHECK (status IN ('STOPPED', 'STARTING', 'RUNNING', 'STOPPING', 'FAILED')),"
           " pid BIGINT,"
           " proc_start BIGINT,"
           " exit_code INTEGER,"
           " started_at TEXT COLLATE \"C\","
           " stopped_at TEXT COLLATE \"C\","
           " next_run_at TEXT COLLATE \"C\","
           " cmd INTEGER CHECK (cmd BETWEEN 1 AND 5),"
           " cmd_flag INTEGER CHECK (cmd_flag IN (0, 1, 2)),"
           " cmd_id TEXT,"
           " cmd_issued_by TEXT,"
           " cmd_args TEXT,"
           " cmd_result TEXT)",
           "CREATE INDEX apps_by_manager ON apps (manager)",
           "CREATE TABLE commands ("
           " seq BIGSERIAL PRIMARY KEY,"
           " cmd_id TEXT NOT NULL,"
           " app_id TEXT NOT NULL,"
           " target TEXT NOT NULL,"
           " command INTEGER NOT NULL CHECK (command BETWEEN 1 AND 5),"
           " args TEXT NOT NULL DEFAULT '{}',"
           " issued_by TEXT NOT NULL DEFAULT '',"
           " issued_at TEXT COLLATE \"C\" NOT NULL,"
           " flag INTEGER NOT NULL DEFAULT 0 CHECK (flag IN (0, 1, 2)),"
           " claimed_by TEXT,"
           " claimed_at TEXT COLLATE \"C\","
           " executed_at TEXT COLLATE \"C\","
           " result TEXT,"
           " path TEXT CHECK (path IN ('broker', 'poll')),"
           " UNIQUE (cmd_id, app_id))",
           // Statements span lines (adjacent literals); the check takes this
           // one's for a missing comma.
           // NOLINTNEXTLINE(bugprone-suspicious-missing-comma)
           "CREATE INDEX commands_pending_by_app ON commands (app_id, seq)"
           " WHERE flag = 0 AND claimed_by IS NULL",
           "CREATE INDEX commands_claimed_unfinished ON commands (claimed_by, seq)"
           " WHERE flag = 0 AND claimed_by IS NOT NULL",
           "CREATE TABLE managers ("
           " name TEXT PRIMARY KEY NOT NULL,"
           " host TEXT NOT NULL,"
           " pid BIGINT NOT NULL,"
           " started_at TEXT COLLATE \"C\" NOT NULL,"
           " last_seen TEXT COLLATE \"C\" NOT NULL,"
           " mode TEXT NOT NULL,"
           " version TEXT NOT NULL DEFAULT '')",
       }},
      {2,
       {
           "ALTER TABLE apps ADD COLUMN registered_at TEXT COLLATE \"C\"",
           "ALTER TABLE commands ADD COLUMN claimed_instance TEXT",
           "ALTER TABLE commands ADD COLUMN signature TEXT NOT NULL DEFAULT ''",
           "ALTER TABLE commands ADD COLUMN recorded BOOLEAN NOT NULL DEFAULT TRUE",
           "ALTER TABLE managers ADD COLUMN instance TEXT NOT NULL DEFAULT ''",
       }},
      {3,
       {
           "CREATE TABLE events ("
           " seq BIGSERIAL PRIMARY KEY,"
           " at TEXT COLLATE \"C\" NOT NULL,"
           " kind TEXT NOT NULL CHECK (kind IN ('command', 'app', 'manager')),"
           " subject TEXT NOT NULL,"
           " data TEXT NOT NULL)",
           "ALTER TABLE managers ADD COLUMN reported_live BOOLEAN NOT NULL DEFAULT TRUE",
           "ALTER TABLE apps ADD COLUMN cmd_path TEXT CHECK (cmd_path IN ('broker', 'poll'))",
       }},
  };
  return migrations;
}

}  // namespace dc::store_detail
