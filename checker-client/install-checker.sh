#!/usr/bin/env bash
# gpupool checker installer: installs gpupool-checker (a third-party checker of the open checker network)
# as a hardened systemd service, after checking that the API answers and takes the key. A checker host needs
# Node.js 20+ and nothing else: no GPU, no Docker. Re-running upgrades in place and keeps the checker's key.
#
#   curl -fsSL https://API/checker/install.sh | sudo bash -s -- --api-url https://API --checker-key gp_...
#   sudo checker-client/install-checker.sh --api-url https://API --checker-key gp_...   (from a checkout)
#   sudo checker-client/install-checker.sh --check                                        (settings and API only)
#   sudo checker-client/install-checker.sh --uninstall
#
# Run with --help for every option. docs/checkers.md (Running a checker) explains what it does.
set -euo pipefail

readonly SERVICE=gpupool-checker.service
readonly BUNDLE_NAME=gpupool-checker.mjs
# Paths as the running service sees them; everything written goes under $ROOT (--root, for tests).
readonly STATE_DIR_ON_HOST=/var/lib/gpupool-checker
readonly MIN_NODE_MAJOR=20

# The systemd unit. In a checkout it is read from gpupool-checker.service next to this script; the copy the
# API serves at /checker/install.sh carries it inline on the next line (scripts/build-checker.ts puts it there).
UNIT_INLINE=''

usage() {
  cat <<'EOF'
Usage: install-checker.sh [options]

Settings (written to /etc/gpupool/checker.env; on a re-run, omitted ones keep their value):
  --api-url URL              the gpupool API, e.g. https://api.example.com
  --checker-key KEY          API key of the account that holds a checker license or operates one
  --license ID               run only this license (default: every license the key's account runs)
  --poll-seconds N           how often to read assignments (default 2)
  --probe-timeout-seconds N  per probe (default 3)

What to do:
  --check                    check Node.js, the settings and the API (key accepted, licenses), install nothing
  --uninstall                stop the checker and remove it (its key too)
  --checker-file PATH        the bundled checker to install (default: dist/gpupool-checker.mjs of the checkout
                             this script is in, else <api-url>/checker/gpupool-checker.mjs, checked against the
                             SHA-256 digest the API gives at <api-url>/checker/gpupool-checker.mjs.sha256)
  --checker-sha256 HEX       install the checker only if its SHA-256 digest is HEX
  --no-systemd               write the files but do not reload, enable or start the service
  --root DIR                 prefix for every path written (tests, image builds)
  -h, --help                 this text

Values may also come from the environment as GPUPOOL_API_URL, GPUPOOL_CHECKER_KEY, GPUPOOL_CHECKER_LICENSE,
GPUPOOL_CHECKER_POLL_SECONDS and GPUPOOL_CHECKER_PROBE_TIMEOUT_SECONDS; flags win.
EOF
}

say() { printf 'gpupool-checker: %s\n' "$*"; }
warn() { printf 'gpupool-checker: warning: %s\n' "$*" >&2; }
die() {
  printf 'gpupool-checker: error: %s\n' "$*" >&2
  exit 1
}

ROOT=''
MODE=install
SYSTEMD=1
CHECKER_FILE=''
CHECKER_SHA256=''
DOWNLOAD_DIR=''
declare -A FLAG=()
declare -A SETTING=()
readonly KEYS=(GPUPOOL_API_URL GPUPOOL_CHECKER_KEY GPUPOOL_CHECKER_LICENSE GPUPOOL_CHECKER_POLL_SECONDS GPUPOOL_CHECKER_PROBE_TIMEOUT_SECONDS)

flag_var() {
  case $1 in
    --api-url) echo GPUPOOL_API_URL ;;
    --checker-key) echo GPUPOOL_CHECKER_KEY ;;
    --license) echo GPUPOOL_CHECKER_LICENSE ;;
    --poll-seconds) echo GPUPOOL_CHECKER_POLL_SECONDS ;;
    --probe-timeout-seconds) echo GPUPOOL_CHECKER_PROBE_TIMEOUT_SECONDS ;;
    *) return 1 ;;
  esac
}

parse_args() {
  local opt value var
  while (($# > 0)); do
    opt=$1
    if [[ $opt == --*=* ]]; then
      value=${opt#*=}
      opt=${opt%%=*}
      set -- "$opt" "$value" "${@:2}"
    fi
    case $opt in
      -h | --help) usage; exit 0 ;;
      --check) MODE=check; shift; continue ;;
      --uninstall) MODE=uninstall; shift; continue ;;
      --no-systemd) SYSTEMD=0; shift; continue ;;
    esac
    var=''
    case $opt in
      --root | --checker-file | --checker-sha256) ;;
      *) var=$(flag_var "$opt") || die "unknown option $opt (see --help)" ;;
    esac
    (($# >= 2)) || die "$opt needs a value (see --help)"
    value=$2
    case $opt in
      --root) ROOT=${value%/} ;;
      --checker-file) CHECKER_FILE=$value ;;
      --checker-sha256)
        [[ $value =~ ^[0-9a-fA-F]{64}$ ]] || die "--checker-sha256 takes a SHA-256 digest (64 hex digits), got '$value'"
        CHECKER_SHA256=${value,,}
        ;;
      *) FLAG[$var]=$value ;;
    esac
    shift 2
  done
}

set_paths() {
  OPT_DIR=$ROOT/opt/gpupool
  CHECKER_PATH=$OPT_DIR/$BUNDLE_NAME
  ETC_DIR=$ROOT/etc/gpupool
  ENV_FILE=$ETC_DIR/checker.env
  UNIT_PATH=$ROOT/etc/systemd/system/$SERVICE
  STATE_DIR=$ROOT$STATE_DIR_ON_HOST
  SCRIPT_DIR=''
  local src=${BASH_SOURCE[0]:-}
  # Piped into bash there is no file; from a checkout the unit sits next to it and the bundle in ../dist.
  if [[ -n $src && -f $src ]]; then SCRIPT_DIR=$(cd "$(dirname "$src")" && pwd); fi
}

# Existing env file first (a re-run keeps what it does not change), then the environment, then flags.
load_settings() {
  local line key
  if [[ -f $ENV_FILE ]]; then
    while IFS= read -r line || [[ -n $line ]]; do
      [[ $line =~ ^(GPUPOOL_[A-Z0-9_]+)=(.*)$ ]] || continue
      SETTING[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
    done <"$ENV_FILE"
  fi
  for key in "${KEYS[@]}"; do
    if [[ -n ${!key:-} ]]; then SETTING[$key]=${!key}; fi
  done
  for key in "${!FLAG[@]}"; do SETTING[$key]=${FLAG[$key]}; done
  if [[ -n ${SETTING[GPUPOOL_API_URL]:-} ]]; then SETTING[GPUPOOL_API_URL]=${SETTING[GPUPOOL_API_URL]%/}; fi
}

is_loopback_url() {
  local host=${1#*://}
  host=${host%%[:/]*}
  [[ ${host,,} == localhost || $host =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]]
}

# Values go into a systemd EnvironmentFile unquoted, so each is held to a plain character set.
validate_settings() {
  local -A pattern=(
    [GPUPOOL_API_URL]='^https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~/-]*)?$'
    [GPUPOOL_CHECKER_KEY]='^[A-Za-z0-9_-]+$'
    [GPUPOOL_CHECKER_LICENSE]='^[A-Za-z0-9_-]{1,64}$'
    [GPUPOOL_CHECKER_POLL_SECONDS]='^[0-9]{1,4}(\.[0-9]{1,3})?$'
    [GPUPOOL_CHECKER_PROBE_TIMEOUT_SECONDS]='^[0-9]{1,3}(\.[0-9]{1,3})?$'
  )
  local key problems=()
  for key in "${!pattern[@]}"; do
    if [[ -n ${SETTING[$key]:-} && ! ${SETTING[$key]} =~ ${pattern[$key]} ]]; then
      problems+=("$key does not match ${pattern[$key]}")
    fi
  done
  [[ -n ${SETTING[GPUPOOL_API_URL]:-} ]] || problems+=("--api-url is required (e.g. --api-url https://api.example.com)")
  [[ -n ${SETTING[GPUPOOL_CHECKER_KEY]:-} ]] || problems+=("--checker-key is required: an API key of the account that holds or operates a checker license")
  # the key and the checker itself travel over this URL: in clear text anyone on the path could take or swap them
  if [[ ${SETTING[GPUPOOL_API_URL]:-} == http://* ]] && ! is_loopback_url "${SETTING[GPUPOOL_API_URL]}"; then
    problems+=("GPUPOOL_API_URL='${SETTING[GPUPOOL_API_URL]}' is http://: use https:// (http:// is only for a loopback address, localhost or 127.x.x.x)")
  fi
  if ((${#problems[@]} > 0)); then
    printf 'gpupool-checker: error: %s\n' "${problems[@]}" >&2
    exit 1
  fi
}

NODE_FIX='apt-get update && apt-get install -y ca-certificates curl && curl -fsSL https://deb.nodesource.com/setup_22.x | bash - && apt-get install -y nodejs'

check_node() {
  local node major
  node=$(command -v node) || die "Node.js is not installed (the checker needs $MIN_NODE_MAJOR or later); as root: $NODE_FIX"
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  ((major >= MIN_NODE_MAJOR)) || die "Node.js $(node --version) at $node is too old (the checker needs $MIN_NODE_MAJOR or later); as root: $NODE_FIX"
  # the unit has ProtectHome=yes: a node under a home directory cannot start
  [[ $node != /home/* && $node != /root/* ]] || die "node is $node, under a home directory the service may not read (ProtectHome=yes); install Node.js system-wide: $NODE_FIX"
  say "Node.js: $(node --version) at $node"
}

# http URL OUT: GET URL into OUT; exit 0 on 2xx, 44 on 404, 40 other 4xx, 50 5xx, 60 no answer.
readonly HTTP_JS='
const [url, out] = process.argv.slice(1);
let res;
try {
  res = await fetch(url, { signal: AbortSignal.timeout(30000) });
} catch (err) {
  console.error(String(err.cause?.message ?? err.message));
  process.exit(60);
}
const body = Buffer.from(await res.arrayBuffer());
if (res.ok) (await import("node:fs")).writeFileSync(out, body);
else console.error("HTTP " + res.status + ": " + body.toString().slice(0, 300));
process.exit(res.ok ? 0 : res.status === 404 ? 44 : res.status < 500 ? 40 : 50);
'
http_get() { node --input-type=module -e "$HTTP_JS" "$@"; }

# Where the checker comes from: --checker-file, the checkout's dist/, the API, or (re-run) the one installed.
resolve_bundle() {
  BUNDLE=''
  if [[ -n $CHECKER_FILE ]]; then
    [[ -f $CHECKER_FILE ]] || die "--checker-file $CHECKER_FILE: no such file"
    BUNDLE=$CHECKER_FILE
  elif [[ -n $SCRIPT_DIR && -f $SCRIPT_DIR/../dist/$BUNDLE_NAME ]]; then
    BUNDLE=$SCRIPT_DIR/../dist/$BUNDLE_NAME
  else
    DOWNLOAD_DIR=$(mktemp -d "${TMPDIR:-/tmp}/gpupool-checker.XXXXXX")
    local url=${SETTING[GPUPOOL_API_URL]}/checker/$BUNDLE_NAME rc=0 digest
    http_get "$url" "$DOWNLOAD_DIR/$BUNDLE_NAME" 2>/dev/null || rc=$?
    if ((rc == 0)); then
      BUNDLE=$DOWNLOAD_DIR/$BUNDLE_NAME
      say "downloaded the checker from $url"
      if [[ -z $CHECKER_SHA256 ]]; then
        rc=0
        http_get "$url.sha256" "$DOWNLOAD_DIR/$BUNDLE_NAME.sha256" 2>/dev/null || rc=$?
        ((rc == 0)) || die "the API gave no digest for the checker (GET $url.sha256, exit $rc): not installing a checker that cannot be checked; pass --checker-sha256 HEX"
        read -r digest _ <"$DOWNLOAD_DIR/$BUNDLE_NAME.sha256" || true
        [[ ${digest:-} =~ ^[0-9a-f]{64}$ ]] || die "the API's digest for the checker is not a SHA-256 digest: '${digest:-}'"
        CHECKER_SHA256=$digest
      fi
    elif [[ -f $CHECKER_PATH ]]; then
      say 'no new checker bundle found: keeping the installed one'
      BUNDLE=$CHECKER_PATH
    else
      die "no checker bundle to install (GET $url: exit $rc). Build it in a gpupool checkout with: npm ci && npm run build:checker, then pass --checker-file dist/$BUNDLE_NAME"
    fi
  fi
  if [[ -n $CHECKER_SHA256 ]]; then
    local actual
    read -r actual _ < <(sha256sum "$BUNDLE")
    [[ $actual == "$CHECKER_SHA256" ]] || die "the checker bundle $BUNDLE has SHA-256 $actual, not $CHECKER_SHA256: refusing to install it"
    say "checker bundle verified: SHA-256 $actual"
  fi
  node --check "$BUNDLE" 2>/dev/null || die "$BUNDLE is not a JavaScript module node can load"
}

# The bundle's own --check with these settings and nothing else from this shell's environment: 0 ready,
# 1 the API unreachable or failing (the service retries), 2 bad settings or a refused key.
run_check() {
  local args=(PATH="$PATH" GPUPOOL_CHECKER_STATE_DIR="$STATE_DIR") key
  for key in "${KEYS[@]}"; do
    if [[ -n ${SETTING[$key]:-} ]]; then args+=("$key=${SETTING[$key]}"); fi
  done
  CHECK_RC=0
  env -i "${args[@]}" node "$BUNDLE" --check || CHECK_RC=$?
}

install_files() {
  install -d -m 0755 "$OPT_DIR" "$ETC_DIR"
  if [[ $BUNDLE != "$CHECKER_PATH" ]]; then
    install -m 0755 "$BUNDLE" "$OPT_DIR/.$BUNDLE_NAME.new"
    mv -f "$OPT_DIR/.$BUNDLE_NAME.new" "$CHECKER_PATH"
    say "checker installed: $CHECKER_PATH ($(wc -c <"$CHECKER_PATH") bytes)"
  fi
  local tmp key
  tmp=$(mktemp "$ETC_DIR/.checker.env.XXXXXX")
  chmod 600 "$tmp"
  {
    echo '# gpupool checker settings, read by gpupool-checker.service. Written by install-checker.sh: re-run it'
    echo '# to change them, or edit this file and run: systemctl restart gpupool-checker. Mode 600: it holds a key.'
    for key in "${KEYS[@]}"; do
      if [[ -n ${SETTING[$key]:-} ]]; then printf '%s=%s\n' "$key" "${SETTING[$key]}"; fi
    done
  } >"$tmp"
  mv -f "$tmp" "$ENV_FILE"
  say "settings written: $ENV_FILE (mode 600)"

  local template
  if [[ -n $UNIT_INLINE ]]; then
    template=$UNIT_INLINE
  elif [[ -n $SCRIPT_DIR && -f $SCRIPT_DIR/gpupool-checker.service ]]; then
    template=$(<"$SCRIPT_DIR/gpupool-checker.service")
  else
    die "gpupool-checker.service not found next to this script; use the copy the API serves at /checker/install.sh"
  fi
  template=${template//@NODE@/$(command -v node)}
  install -d -m 0755 "$(dirname "$UNIT_PATH")"
  printf '%s\n' "$template" >"$UNIT_PATH.new"
  chmod 644 "$UNIT_PATH.new"
  mv -f "$UNIT_PATH.new" "$UNIT_PATH"
  say "service unit written: $UNIT_PATH"
}

start_service() {
  if ((!SYSTEMD)); then
    say "not starting it (--no-systemd); to start: systemctl daemon-reload && systemctl enable --now $SERVICE"
    return 0
  fi
  systemctl daemon-reload
  systemctl enable "$SERVICE" >/dev/null 2>&1 || systemctl enable "$SERVICE"
  systemctl restart "$SERVICE"
  say "started; follow it with: journalctl -u ${SERVICE%.service} -f"
}

do_install() {
  if [[ -z $ROOT && $EUID -ne 0 ]]; then die 'run as root (sudo), or with --root DIR for a test install'; fi
  load_settings
  validate_settings
  check_node
  resolve_bundle
  run_check
  # nothing is written for what a person must fix; an API that is down now is the service's to retry
  ((CHECK_RC != 2)) || die 'the check above failed: nothing installed'
  ((CHECK_RC == 0)) || warn 'the API did not answer the check; installing anyway: the checker retries when it runs'
  install_files
  start_service
  say 'done'
}

do_check() {
  load_settings
  validate_settings
  check_node
  resolve_bundle
  run_check
  ((CHECK_RC == 0)) || die "the check failed (exit $CHECK_RC)"
  say 'this host can run the checker with these settings'
}

do_uninstall() {
  if [[ -z $ROOT && $EUID -ne 0 ]]; then die 'run as root (sudo)'; fi
  if ((SYSTEMD)) && [[ -f $UNIT_PATH ]]; then systemctl disable --now "$SERVICE" || warn "systemctl could not stop $SERVICE"; fi
  rm -f "$UNIT_PATH" "$ENV_FILE" "$CHECKER_PATH"
  if ((SYSTEMD)); then systemctl daemon-reload || true; fi
  # the agent may share these directories: removed only when empty
  rmdir "$OPT_DIR" "$ETC_DIR" 2>/dev/null || true
  # DynamicUser keeps the state under /var/lib/private; the key goes with it (a reinstall registers a new one)
  rm -rf "$STATE_DIR" "$ROOT/var/lib/private/gpupool-checker"
  say 'removed the gpupool checker'
}

cleanup() {
  if [[ -n $DOWNLOAD_DIR ]]; then rm -rf "$DOWNLOAD_DIR"; fi
}

main() {
  trap cleanup EXIT
  parse_args "$@"
  set_paths
  case $MODE in
    check) do_check ;;
    uninstall) do_uninstall ;;
    install) do_install ;;
  esac
}

main "$@"
