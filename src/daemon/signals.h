// The signals every dc daemon handles the same way: SIGTERM and SIGINT ask
// it to stop, SIGHUP to reopen its log file, and SIGPIPE is ignored (a
// broken socket must be an error value, not a dead process).
#pragma once

namespace dc {

// Installs `on_stop` for SIGTERM and SIGINT and `on_hup` for SIGHUP (both
// async-signal-safe: set a flag and return), and ignores SIGPIPE.
void install_daemon_signal_handlers(void (*on_stop)(int), void (*on_hup)(int));

}  // namespace dc
