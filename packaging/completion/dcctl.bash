# bash completion for dcctl(1). Installed as
# /usr/share/bash-completion/completions/dcctl; `dcctl completion bash`
# prints this same script (for `source <(dcctl completion bash)`).
#
# Completes subcommands, their options, the configuration flags every
# subcommand takes, and app ids (from `dcctl apps list`, with the
# configuration the command line names so far).

_dcctl_config_flags="--config --rabbit-host --rabbit-port --rabbit-username --rabbit-password
  --rabbit-password-file --rabbit-queue --rabbit-prefetch --rabbit-vhost --rabbit-exchange --rabbit-heartbeat
  --rabbit-tls --rabbit-tls-ca --rabbit-tls-cert --rabbit-tls-key --rabbit-tls-verify --rabbit-queue-type
  --db-url --poll-interval --stop-timeout --log-dir --log-level --log-format --log-file --metrics-listen
  --command-secret --command-max-age --lease-ttl --schedule-misfire-grace --worker-queues --worker-threads
  --worker-prefetch --worker-shutdown-timeout --task-max-priority --task-max-body --api-listen
  --api-tokens-file --api-tls-cert --api-tls-key --api-max-body --api-request-timeout --api-url
  --api-token-file"

# The app ids dcctl knows, one a line, using the --config / --db-url / ...
# options already on the command line.
_dcctl_app_ids() {
  local -a config=()
  local i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      --config | --db-url | --api-url | --api-token-file)
        config+=("${COMP_WORDS[i]}" "${COMP_WORDS[i + 1]}")
        ;;
      --config=* | --db-url=* | --api-url=* | --api-token-file=*)
        config+=("${COMP_WORDS[i]}")
        ;;
    esac
  done
  "${COMP_WORDS[0]}" apps list "${config[@]}" 2>/dev/null | awk 'NR > 1 && $1 != "" { print $1 }'
}

_dcctl() {
  local cur prev
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD - 1]}

  # Options that take a file or a value: complete files, or nothing.
  case $prev in
    --config | --rabbit-password-file | --rabbit-tls-ca | --rabbit-tls-cert | --rabbit-tls-key | --log-file | \
      --api-tokens-file | --api-tls-cert | --api-tls-key | --api-token-file | --log-dir)
      COMPREPLY=($(compgen -f -- "$cur"))
      return
      ;;
    --log-level)
      COMPREPLY=($(compgen -W "trace debug info warn error critical off" -- "$cur"))
      return
      ;;
    --log-format)
      COMPREPLY=($(compgen -W "text json" -- "$cur"))
      return
      ;;
    --rabbit-queue-type)
      COMPREPLY=($(compgen -W "classic quorum" -- "$cur"))
      return
      ;;
    --app)
      COMPREPLY=($(compgen -W "$(_dcctl_app_ids)" -- "$cur"))
      return
      ;;
  esac

  # The subcommand path so far: the words that are not options (or their
  # values), up to two levels ("apps update", "task dead list").
  local -a path=()
  local i word
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    case $word in
      -*) continue ;;
    esac
    case ${COMP_WORDS[i - 1]} in
      --config | --manager | --exec | --name | --schedule | --args | --issued-by | --app | --limit | -n | --lines | \
        --kwargs | --delay | --option | --rabbit-* | --db-url | --log-* | --api-* | --poll-interval | \
        --stop-timeout | --metrics-listen | --command-* | --lease-ttl | --schedule-misfire-grace | --worker-* | \
        --task-*)
        continue
        ;;
    esac
    path+=("$word")
  done

  local issue_opts="--all --manager --args --issued-by --wait --json"
  local words=""
  case "${path[0]:-}" in
    "")
      words="start stop restart enable disable status logs apps commands managers db task completion --help --version"
      ;;
    start | stop | restart | enable | disable)
      words="$issue_opts $(_dcctl_app_ids)"
      ;;
    status)
      words="--manager --json -q --no-headers $(_dcctl_app_ids)"
      ;;
    logs)
      if [[ ${#path[@]} -lt 2 ]]; then words="-n --lines -f --follow $(_dcctl_app_ids)"; else words="-n --lines -f --follow"; fi
      ;;
    apps)
      case "${path[1]:-}" in
        "") words="add list show remove update" ;;
        add) words="--manager --exec --name --schedule --disabled" ;;
        list) words="--manager --json -q --no-headers" ;;
        show) words="--json $(_dcctl_app_ids)" ;;
        remove) words="$(_dcctl_app_ids)" ;;
        update) words="--exec --schedule --no-schedule --manager --name --json $(_dcctl_app_ids)" ;;
      esac
      ;;
    commands)
      case "${path[1]:-}" in
        "") words="list show" ;;
        list) words="--app --pending --limit --json -q --no-headers" ;;
        show) words="--json -q --no-headers" ;;
      esac
      ;;
    managers) words="--json -q --no-headers" ;;
    db) [[ -z "${path[1]:-}" ]] && words="init" ;;
    task)
      case "${path[1]:-}" in
        "") words="send queues dead" ;;
        send) words="--args --kwargs --delay --option --wait-confirm --json" ;;
        queues) words="--json -q --no-headers" ;;
        dead)
          case "${path[2]:-}" in
            "") words="list requeue purge" ;;
            list) words="--limit --json" ;;
            requeue) words="--all" ;;
          esac
          ;;
      esac
      ;;
    completion) [[ -z "${path[1]:-}" ]] && words="bash zsh" ;;
  esac
  if [[ -n "${path[0]:-}" && $cur == -* ]]; then
    words="$words $_dcctl_config_flags --help"
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}

complete -F _dcctl dcctl
