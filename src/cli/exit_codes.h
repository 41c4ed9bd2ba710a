// dcctl's exit codes, in one place (docs/OPERATIONS.md and `dcctl --help`
// list them). 0-3 are SPEC §7's and keep their meaning; the rest are
// dcctl's own, each for one condition a script may want to tell apart.
#pragma once

#include "base/result.h"

namespace dc {

inline constexpr int kExitOk = 0;
// A runtime failure; with --wait, some outcome is NOT_EXECUTED.
inline constexpr int kExitFailed = 1;
// Usage or configuration error: the message says what to type.
inline constexpr int kExitUsage = 2;
// --wait: no outcome within the time (the command stays stored and runs later).
inline constexpr int kExitTimeout = 3;
// `dcctl status APP...`: a named app is not RUNNING (LSB's "program is not
// running", as `systemctl status` answers).
inline constexpr int kExitNotRunning = 3;
// `dcctl task ...`: the broker cannot be reached (tasks have no fallback).
inline constexpr int kExitBrokerUnavailable = 4;
// `dcctl status APP...`: a named app is not in the registry (LSB's "status
// unknown", as `systemctl status` answers for a unit it does not know).
inline constexpr int kExitUnknownApp = 4;
// The database cannot be reached (with api_url: dc-api, or the database
// behind it), so nothing was read or recorded. Distinct from 1 so a script
// can retry rather than treat it as a refused command.
inline constexpr int kExitDatabaseUnavailable = 5;

// The exit code an error from the database or dc-api means: 2 for bad
// input, 5 when the service could not be reached (unavailable, timeout),
// else 1.
int exit_code_for(const Error& error);

// The exit code of several outcomes together, the worst of them, in this
// order: 5 (database unreachable) > 2 (usage) > 1 (failed or NOT_EXECUTED)
// > 4 (unknown app) > 3 (timed out / not running) > 0.
int worst_exit_code(int a, int b);

}  // namespace dc
