# shellcheck shell=bash
# Shared by scripts/postgres-local.sh and scripts/postgres-ha.sh, sourced
# once `repo` is set: sets `services_dir` (absolute, created) and
# `server_user`, defines as_server, and changes to / (the server user may
# not be able to read the caller's working directory).
services_dir=${DC_SERVICES_DIR:-$repo/build/services}
mkdir -p "$services_dir"
services_dir=$(cd "$services_dir" && pwd)
cd /

# PostgreSQL refuses to run as root, so as root every server-side command runs
# as the postgres user; otherwise as the invoking user.
if [[ $(id -u) -eq 0 ]]; then
  server_user=postgres
  as_server() { runuser -u postgres -- "$@"; }
else
  # shellcheck disable=SC2034  # read by the sourcing script
  server_user=$(id -un)
  as_server() { "$@"; }
fi
