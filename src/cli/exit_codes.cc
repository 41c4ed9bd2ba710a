#include "cli/exit_codes.h"

namespace dc {
namespace {

// Higher is worse; see worst_exit_code().
int severity(int code) {
  switch (code) {
    case kExitOk:
      return 0;
    case kExitTimeout:  // == kExitNotRunning
      return 1;
    case kExitUnknownApp:
      return 2;
    case kExitFailed:
      return 3;
    case kExitUsage:
      return 4;
    case kExitDatabaseUnavailable:
      return 5;
    default:
      return 3;  // any other failure counts as a failure
  }
}

}  // namespace

int exit_code_for(const Error& error) {
  switch (error.code()) {
    case Errc::invalid_argument:
      return kExitUsage;
    case Errc::unavailable:
    case Errc::timeout:
      return kExitDatabaseUnavailable;
    default:
      return kExitFailed;
  }
}

int worst_exit_code(int a, int b) { return severity(b) > severity(a) ? b : a; }

}  // namespace dc
