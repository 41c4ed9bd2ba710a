#!/usr/bin/env bash
# ctest packaging_completion: dcctl's shell completion, as installed by the
# package, against the real dcctl.
#   1. `dcctl completion bash|zsh` prints exactly packaging/completion/*;
#      an unknown shell is a usage error (exit 2).
#   2. The bash script completes: subcommands, their subcommands, options.
#   3. It cannot drift from dcctl: every subcommand `dcctl --help` lists, and
#      every subcommand of those (`dcctl X --help`), is offered at its place,
#      and every option of `dcctl --help` is in the scripts.
#   4. The zsh script parses (zsh -n), when zsh is installed.
#   completion_test.sh DCCTL SOURCE_DIR
set -euo pipefail
dcctl=$1
source_dir=$2
bash_script=$source_dir/packaging/completion/dcctl.bash
zsh_script=$source_dir/packaging/completion/_dcctl
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# 1. The subcommand prints the packaged files.
"$dcctl" completion bash | cmp -s - "$bash_script" || fail "dcctl completion bash differs from $bash_script"
"$dcctl" completion zsh | cmp -s - "$zsh_script" || fail "dcctl completion zsh differs from $zsh_script"
code=0
"$dcctl" completion fish >/dev/null 2>&1 || code=$?
[[ $code == 2 ]] || fail "dcctl completion fish exited $code, expected 2"

# What the bash completion offers for the command line `$1` (the last word
# is the one being completed; a trailing space starts a new, empty one).
complete_line() {
  DCCTL="$dcctl" bash -c '
    source "$1"
    read -ra COMP_WORDS <<<"$2"
    [[ $2 == *" " ]] && COMP_WORDS+=("")
    COMP_WORDS[0]=$DCCTL
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _dcctl
    echo "${COMPREPLY[*]}"' _ "$bash_script" "$1"
}
expect() {
  local got
  got=$(complete_line "$1")
  [[ " $got " == *" $2 "* ]] || fail "completing '$1': '$2' not among: $got"
}

# 2. A few lines by hand, the parallel additions among them.
expect "dcctl sta" start
expect "dcctl sta" status
expect "dcctl lo" logs
expect "dcctl apps u" update
expect "dcctl apps " remove
expect "dcctl task dead " requeue
expect "dcctl completion " zsh
expect "dcctl restart --wa" --wait
expect "dcctl managers --js" --json
expect "dcctl status --db-" --db-url
expect "dcctl --log-level " warn

# 3. Nothing dcctl has is missing. CLI11 lists subcommands under
# "Subcommands:" and options as "  --name ..." lines.
subcommands_of() { "$dcctl" "$@" --help 2>/dev/null | awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }'; }
for sub in $(subcommands_of); do
  expect "dcctl " "$sub"
  for subsub in $(subcommands_of "$sub"); do
    expect "dcctl $sub " "$subsub"
  done
done
for option in $("$dcctl" --help | grep -oE '^ +(-[a-z],)?--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z0-9-]+'); do
  grep -q -- "$option\b" "$bash_script" || fail "option $option is not in dcctl.bash"
  grep -q -- "$option\b" "$zsh_script" || fail "option $option is not in _dcctl"
done

# 4. zsh syntax.
if command -v zsh >/dev/null 2>&1; then
  zsh -n "$zsh_script" || fail "_dcctl does not parse (zsh -n)"
else
  echo "note: zsh not installed; _dcctl's syntax not checked"
fi

[[ $failures == 0 ]] || { echo "$failures failure(s)" >&2; exit 1; }
echo "completion: ok ($(subcommands_of | wc -l) subcommands checked)"
