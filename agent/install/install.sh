#!/usr/bin/env bash
# gpupool agent installer: checks the host, installs the agent as a hardened systemd service, starts it and
# waits until the node is ONLINE. Re-running upgrades in place and keeps the node's identity.
#
#   curl -fsSL https://API/install.sh | sudo bash -s -- --api-url https://API --provider-key gp_...
#   sudo agent/install/install.sh --api-url https://API --provider-key gp_...     (from a checkout)
#   sudo agent/install/install.sh --check                                            (host checks only)
#   sudo agent/install/install.sh --uninstall                                        (drain, deregister, remove)
#
# Run with --help for every option. docs/agent-hosts.md explains what it does and why.
set -euo pipefail

readonly SERVICE=gpupool-agent.service
readonly AGENT_USER=gpupool
# Paths as the running service sees them; everything written goes under $ROOT (--root, for tests).
readonly STATE_DIR_ON_HOST=/var/lib/gpupool
readonly BUNDLE_NAME=gpupool-agent.mjs
readonly MIN_NODE_MAJOR=20

# The systemd unit. In a checkout it is read from gpupool-agent.service next to this script; the copy the
# API serves at /install.sh carries it inline on the next line (scripts/build-agent.ts puts it there).
UNIT_INLINE=''

usage() {
  cat <<'EOF'
Usage: install.sh [options]

Connection (written to /etc/gpupool/agent.env; on a re-run, omitted ones keep their value):
  --api-url URL          the gpupool API, e.g. https://api.example.com
  --provider-key KEY     provider API key: registers the node on first start
  --node-key KEY         an existing node key instead (the node is then not registered here)
  --name NAME            node name (default: the host name)
  --region REGION        e.g. eu-west (default: local)
  --location LAT,LON     e.g. 52.52,13.40
  --price MICROCREDITS   price per GPU-hour in micro-credits (1 credit = 1000000; default 2000000)
  --runtime docker|process  how jobs run (default docker; process is for hosts without Docker)
  --probe-port PORT      TCP port of the agent's probe server, which the control plane's checker must reach
  --probe-url URL        the URL the checker should use instead, when the port is forwarded or behind NAT

What to do:
  --check                only check the host and print what is missing, with the command that fixes it
  --install-deps         install what is missing where apt can (Node.js 22, Docker, NVIDIA Container Toolkit,
                         on Ubuntu the NVIDIA driver)
  --uninstall            stop the agent (it drains), deregister the node, remove everything
  --agent-file PATH      the bundled agent to install (default: dist/gpupool-agent.mjs of the checkout this
                         script is in, else <api-url>/agent/gpupool-agent.mjs, checked against the SHA-256
                         digest the API gives at <api-url>/agent/gpupool-agent.mjs.sha256)
  --agent-sha256 HEX     install the agent only if its SHA-256 digest is HEX (a digest you got elsewhere)
  --wait-seconds N       how long to wait for the node to come ONLINE (default 180)
  --no-systemd           write the files but do not reload, enable or start the service
  --root DIR             prefix for every path written (tests, image builds)
  -h, --help             this text

Values may also come from the environment as GPUPOOL_API_URL, GPUPOOL_PROVIDER_KEY and so on; flags win.
EOF
}

say() { printf 'gpupool: %s\n' "$*"; }
warn() { printf 'gpupool: warning: %s\n' "$*" >&2; }
die() {
  printf 'gpupool: error: %s\n' "$*" >&2
  exit 1
}

# ---------------------------------------------------------------------------------------------- options

ROOT=''
MODE=install
INSTALL_DEPS=0
SYSTEMD=1
AGENT_FILE=''
AGENT_SHA256=''        # --agent-sha256: the digest the bundle must have
WAIT_SECONDS=180
DOWNLOAD_DIR=''        # where a bundle fetched from the API lands; removed on exit
declare -A FLAG=()     # GPUPOOL_* values given as flags
declare -A SETTING=()  # the env file's content: existing file < environment < flags

flag_var() {
  case $1 in
    --api-url) echo GPUPOOL_API_URL ;;
    --provider-key) echo GPUPOOL_PROVIDER_KEY ;;
    --node-key) echo GPUPOOL_NODE_KEY ;;
    --name) echo GPUPOOL_NODE_NAME ;;
    --region) echo GPUPOOL_REGION ;;
    --location) echo GPUPOOL_LOCATION ;;
    --price) echo GPUPOOL_PRICE_PER_GPU_HOUR ;;
    --runtime) echo GPUPOOL_RUNTIME ;;
    --probe-port) echo GPUPOOL_PROBE_PORT ;;
    --probe-url) echo GPUPOOL_PROBE_URL ;;
    *) return 1 ;;
  esac
}

parse_args() {
  local opt value var
  while (($# > 0)); do
    opt=$1
    value=''
    if [[ $opt == --*=* ]]; then
      value=${opt#*=}
      opt=${opt%%=*}
      set -- "$opt" "$value" "${@:2}"
    fi
    case $opt in
      -h | --help) usage; exit 0 ;;
      --check) MODE=check; shift; continue ;;
      --uninstall) MODE=uninstall; shift; continue ;;
      --install-deps) INSTALL_DEPS=1; shift; continue ;;
      --no-systemd) SYSTEMD=0; shift; continue ;;
    esac
    var=''
    case $opt in
      --root | --agent-file | --agent-sha256 | --wait-seconds) ;;
      *) var=$(flag_var "$opt") || die "unknown option $opt (see --help)" ;;
    esac
    (($# >= 2)) || die "$opt needs a value (see --help)"
    value=$2
    case $opt in
      --root) ROOT=${value%/} ;;
      --agent-file) AGENT_FILE=$value ;;
      --agent-sha256)
        [[ $value =~ ^[0-9a-fA-F]{64}$ ]] || die "--agent-sha256 takes a SHA-256 digest (64 hex digits), got '$value'"
        AGENT_SHA256=${value,,}
        ;;
      --wait-seconds)
        [[ $value =~ ^[0-9]+$ ]] || die "--wait-seconds takes a number of seconds, got '$value'"
        WAIT_SECONDS=$value
        ;;
      *) FLAG[$var]=$value ;;
    esac
    shift 2
  done
}

set_paths() {
  OS_RELEASE=$ROOT/etc/os-release
  OPT_DIR=$ROOT/opt/gpupool
  AGENT_PATH=$OPT_DIR/$BUNDLE_NAME
  ETC_DIR=$ROOT/etc/gpupool
  ENV_FILE=$ETC_DIR/agent.env
  UNIT_PATH=$ROOT/etc/systemd/system/$SERVICE
  STATE_DIR=$ROOT$STATE_DIR_ON_HOST
  SCRIPT_DIR=''
  local src=${BASH_SOURCE[0]:-}
  # Piped into bash there is no file; from a checkout the unit and the built agent sit next to it.
  if [[ -n $src && -f $src ]]; then SCRIPT_DIR=$(cd "$(dirname "$src")" && pwd); fi
}

# Existing env file first (so a re-run keeps what it does not change), then GPUPOOL_* from the
# environment, then flags.
load_settings() {
  local line key
  if [[ -f $ENV_FILE ]]; then
    while IFS= read -r line || [[ -n $line ]]; do
      [[ $line =~ ^(GPUPOOL_[A-Z0-9_]+)=(.*)$ ]] || continue
      SETTING[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
    done <"$ENV_FILE"
  fi
  for key in GPUPOOL_API_URL GPUPOOL_PROVIDER_KEY GPUPOOL_NODE_KEY GPUPOOL_NODE_NAME GPUPOOL_REGION \
    GPUPOOL_LOCATION GPUPOOL_PRICE_PER_GPU_HOUR GPUPOOL_RUNTIME GPUPOOL_PROBE_PORT GPUPOOL_PROBE_URL; do
    if [[ -n ${!key:-} ]]; then SETTING[$key]=${!key}; fi
  done
  for key in "${!FLAG[@]}"; do SETTING[$key]=${FLAG[$key]}; done
  if [[ -n ${SETTING[GPUPOOL_API_URL]:-} ]]; then SETTING[GPUPOOL_API_URL]=${SETTING[GPUPOOL_API_URL]%/}; fi
  if [[ -z ${SETTING[GPUPOOL_RUNTIME]:-} ]]; then SETTING[GPUPOOL_RUNTIME]=docker; fi
  SETTING[GPUPOOL_STATE_DIR]=$STATE_DIR_ON_HOST
}

# Values go into a systemd EnvironmentFile unquoted, so each is held to a plain character set.
validate_settings() {
  local -A pattern=(
    [GPUPOOL_API_URL]='^https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~/-]*)?$'
    [GPUPOOL_PROVIDER_KEY]='^[A-Za-z0-9_-]+$'
    [GPUPOOL_NODE_KEY]='^[A-Za-z0-9_-]+$'
    [GPUPOOL_NODE_NAME]='^[A-Za-z0-9._-]{1,128}$'
    [GPUPOOL_REGION]='^[a-z0-9-]{1,64}$'
    [GPUPOOL_LOCATION]='^-?[0-9]{1,2}(\.[0-9]+)?,-?[0-9]{1,3}(\.[0-9]+)?$'
    [GPUPOOL_PRICE_PER_GPU_HOUR]='^[0-9]{1,10}$'
    [GPUPOOL_RUNTIME]='^(docker|process)$'
    [GPUPOOL_PROBE_PORT]='^[0-9]{1,5}$'
    [GPUPOOL_PROBE_URL]='^https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~/-]*)?$'
  )
  local key problems=()
  for key in "${!pattern[@]}"; do
    if [[ -n ${SETTING[$key]:-} && ! ${SETTING[$key]} =~ ${pattern[$key]} ]]; then
      problems+=("$key='${SETTING[$key]}' does not match ${pattern[$key]}")
    fi
  done
  [[ -n ${SETTING[GPUPOOL_API_URL]:-} ]] || problems+=("--api-url is required (e.g. --api-url https://api.example.com)")
  # Keys and the agent itself travel over this URL: in clear text anyone on the path could take or swap them.
  if [[ ${SETTING[GPUPOOL_API_URL]:-} == http://* ]] && ! is_loopback_url "${SETTING[GPUPOOL_API_URL]}"; then
    problems+=("GPUPOOL_API_URL='${SETTING[GPUPOOL_API_URL]}' is http://: use https:// (http:// is only for a loopback address, localhost or 127.x.x.x)")
  fi
  if [[ -z ${SETTING[GPUPOOL_PROVIDER_KEY]:-} && -z ${SETTING[GPUPOOL_NODE_KEY]:-} && ! -f $STATE_DIR/identity.json ]]; then
    problems+=("--provider-key is required to register this node (or --node-key with an existing node's key)")
  fi
  if ((${#problems[@]} > 0)); then
    printf 'gpupool: error: %s\n' "${problems[@]}" >&2
    exit 1
  fi
}

# is_loopback_url URL: whether URL's host is this machine (localhost, 127.0.0.0/8), where clear text stays local.
is_loopback_url() {
  local host=${1#*://}
  host=${host%%[:/]*}
  [[ ${host,,} == localhost || $host =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]]
}

# ------------------------------------------------------------------------------------------ host checks

PROBLEMS=()
FIXES=()
AUTO=()  # 1: --install-deps may run the fix
NEED_REBOOT=0

problem() {
  PROBLEMS+=("$1")
  FIXES+=("$2")
  AUTO+=("$3")
}

os_field() {
  [[ -f $OS_RELEASE ]] || return 0
  sed -n "s/^$1=//p" "$OS_RELEASE" | head -n 1 | tr -d '"'
}

NODE_FIX='apt-get update && apt-get install -y ca-certificates curl && curl -fsSL https://deb.nodesource.com/setup_22.x | bash - && apt-get install -y nodejs'
DOCKER_FIX='apt-get update && apt-get install -y docker.io && systemctl enable --now docker'
TOOLKIT_FIX='apt-get update && apt-get install -y ca-certificates curl gpg && curl -fsSL https://nvidia.github.io/libnvidia-container/gpgkey | gpg --dearmor --yes -o /usr/share/keyrings/nvidia-container-toolkit-keyring.gpg && curl -fsSL https://nvidia.github.io/libnvidia-container/stable/deb/nvidia-container-toolkit.list | sed "s#deb https://#deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] https://#g" > /etc/apt/sources.list.d/nvidia-container-toolkit.list && apt-get update && apt-get install -y nvidia-container-toolkit && nvidia-ctk runtime configure --runtime=docker && systemctl restart docker'
DRIVER_FIX_UBUNTU='apt-get update && apt-get install -y ubuntu-drivers-common && ubuntu-drivers install'
DRIVER_FIX_DEBIAN='add "contrib non-free non-free-firmware" to the Components of /etc/apt/sources.list.d/debian.sources (or each line of /etc/apt/sources.list), then: apt-get update && apt-get install -y linux-headers-amd64 nvidia-driver nvidia-smi firmware-misc-nonfree'

check_host() {
  PROBLEMS=() FIXES=() AUTO=()
  local id version like apt=0 ubuntu=0
  id=$(os_field ID)
  version=$(os_field VERSION_ID)
  like=$(os_field ID_LIKE)
  case "$id $version" in
    'ubuntu 22.04' | 'ubuntu 24.04' | 'debian 12') say "OS: $id $version" ;;
    *) warn "OS ${id:-unknown} ${version:-} is not one gpupool is tested on (Ubuntu 22.04/24.04, Debian 12); going on" ;;
  esac
  if [[ " $id $like " == *" debian "* || " $id $like " == *" ubuntu "* ]] && command -v apt-get >/dev/null; then apt=1; fi
  if [[ $id == ubuntu ]]; then ubuntu=$apt; fi

  local out
  if ! command -v nvidia-smi >/dev/null; then
    problem 'nvidia-smi not found: the NVIDIA driver is not installed' \
      "$(driver_fix "$id") (then reboot)" "$ubuntu"
  elif ! out=$(timeout 30 nvidia-smi -L 2>&1); then
    problem "nvidia-smi fails: $(head -n 1 <<<"$out")" \
      "reboot if the driver was just installed; else reinstall it: $(driver_fix "$id")" 0
  else
    say "GPUs: $(grep -c '^GPU ' <<<"$out" || true) ($(sed -n 's/^GPU 0: \(.*\) (UUID.*/\1/p' <<<"$out"))"
  fi

  if [[ ${SETTING[GPUPOOL_RUNTIME]:-docker} == docker ]]; then
    if ! command -v docker >/dev/null; then
      problem 'Docker is not installed' "$DOCKER_FIX" "$apt"
      problem 'the NVIDIA Container Toolkit is not installed (Docker has no nvidia runtime)' "$TOOLKIT_FIX" "$apt"
    elif ! out=$(timeout 30 docker info --format '{{json .Runtimes}}' 2>&1); then
      problem "the Docker daemon does not answer: $(head -n 1 <<<"$out")" 'systemctl enable --now docker' "$apt"
    elif [[ $out != *'"nvidia"'* ]]; then
      problem 'Docker has no nvidia runtime: the NVIDIA Container Toolkit is missing or not configured' "$TOOLKIT_FIX" "$apt"
    else
      say 'Docker: nvidia runtime present'
    fi
  fi

  local node major
  if ! node=$(command -v node); then
    problem "Node.js is not installed (the agent needs $MIN_NODE_MAJOR or later)" "$NODE_FIX" "$apt"
  else
    major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
    if ((major < MIN_NODE_MAJOR)); then
      problem "Node.js $(node --version 2>/dev/null) at $node is too old (the agent needs $MIN_NODE_MAJOR or later)" "$NODE_FIX" "$apt"
    elif [[ $node == /home/* || $node == /root/* ]]; then
      problem "node is $node, under a home directory the service may not read (ProtectHome=yes); install Node.js system-wide" "$NODE_FIX" "$apt"
    else
      say "Node.js: $(node --version) at $node"
    fi
  fi
}

driver_fix() {
  case $1 in
    ubuntu) echo "$DRIVER_FIX_UBUNTU" ;;
    debian) echo "$DRIVER_FIX_DEBIAN" ;;
    *) echo 'install the NVIDIA driver for your distribution (https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/)' ;;
  esac
}

report_problems() {
  local i
  for i in "${!PROBLEMS[@]}"; do
    printf 'gpupool: missing: %s\n    fix (as root): %s\n' "${PROBLEMS[$i]}" "${FIXES[$i]}" >&2
  done
}

# Checks; with --install-deps runs the fixes apt can do, then checks again. Exits 1 while anything is missing.
ensure_host() {
  check_host
  if ((${#PROBLEMS[@]} == 0)); then return 0; fi
  if ((INSTALL_DEPS)); then
    local i ran=' '
    for i in "${!PROBLEMS[@]}"; do
      [[ ${AUTO[$i]} == 1 ]] || continue
      # Docker and the toolkit may be reported together; each fix runs once.
      [[ $ran == *" ${FIXES[$i]} "* ]] && continue
      ran+=" ${FIXES[$i]} "
      say "installing: ${PROBLEMS[$i]%%:*}"
      DEBIAN_FRONTEND=noninteractive bash -c "${FIXES[$i]}" || die "this fix failed: ${FIXES[$i]}"
      if [[ ${FIXES[$i]} == "$DRIVER_FIX_UBUNTU" ]]; then NEED_REBOOT=1; fi
    done
    if ((NEED_REBOOT)); then
      say 'the NVIDIA driver is installed: reboot, then run this script again'
      exit 1
    fi
    check_host
    if ((${#PROBLEMS[@]} == 0)); then return 0; fi
  fi
  report_problems
  if ((INSTALL_DEPS)); then
    die "${#PROBLEMS[@]} thing(s) missing that --install-deps cannot install here; run the fixes above, then this script again"
  fi
  die "${#PROBLEMS[@]} thing(s) missing; run the fixes above (or re-run with --install-deps), then this script again"
}

# ------------------------------------------------------------------------------------------- http, json

# http METHOD URL [OUT]: the body to stdout (or OUT); exit 0 on 2xx, 44 on 404, 40 other 4xx, 50 5xx,
# 60 no answer. The key travels in the environment, never on a command line other users can read.
readonly HTTP_JS='
const [method, url, out] = process.argv.slice(1);
const headers = { accept: "application/json" };
if (process.env.GPUPOOL_HTTP_KEY) headers["x-api-key"] = process.env.GPUPOOL_HTTP_KEY;
let res;
try {
  res = await fetch(url, { method, headers, signal: AbortSignal.timeout(30000) });
} catch (err) {
  console.error(String(err.cause?.message ?? err.message));
  process.exit(60);
}
const body = Buffer.from(await res.arrayBuffer());
if (res.ok && out) (await import("node:fs")).writeFileSync(out, body);
else if (res.ok) process.stdout.write(body);
else console.error("HTTP " + res.status + ": " + body.toString().slice(0, 300));
process.exit(res.ok ? 0 : res.status === 404 ? 44 : res.status < 500 ? 40 : 50);
'
http() {
  GPUPOOL_HTTP_KEY=${HTTP_KEY:-} node --input-type=module -e "$HTTP_JS" "$@"
}

# json_field PATH: reads JSON on stdin, prints the value at a dotted path (empty when absent).
json_field() {
  node -e '
let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
  let v; try { v = JSON.parse(s); } catch { process.exit(0); }
  for (const k of process.argv[1].split(".")) v = v == null ? undefined : v[k];
  if (v !== undefined && v !== null) process.stdout.write(typeof v === "string" ? v : JSON.stringify(v));
});' "$1"
}

node_id() {
  if [[ -f $STATE_DIR/identity.json ]]; then json_field nodeId <"$STATE_DIR/identity.json"; fi
}

# ---------------------------------------------------------------------------------------------- install

# Where the agent comes from: --agent-file, the checkout's dist/, the API, or (re-run) the one installed.
resolve_bundle() {
  BUNDLE=''
  if [[ -n $AGENT_FILE ]]; then
    [[ -f $AGENT_FILE ]] || die "--agent-file $AGENT_FILE: no such file"
    BUNDLE=$AGENT_FILE
  elif [[ -n $SCRIPT_DIR && -f $SCRIPT_DIR/../../dist/$BUNDLE_NAME ]]; then
    BUNDLE=$SCRIPT_DIR/../../dist/$BUNDLE_NAME
  else
    DOWNLOAD_DIR=$(mktemp -d "${TMPDIR:-/tmp}/gpupool-agent.XXXXXX")
    local rc=0
    # named .mjs: node --check below reads the file as ESM only by its extension
    http GET "${SETTING[GPUPOOL_API_URL]}/agent/$BUNDLE_NAME" "$DOWNLOAD_DIR/$BUNDLE_NAME" 2>/dev/null || rc=$?
    if ((rc == 0)); then
      BUNDLE=$DOWNLOAD_DIR/$BUNDLE_NAME
      say "downloaded the agent from ${SETTING[GPUPOOL_API_URL]}/agent/$BUNDLE_NAME"
      if [[ -z $AGENT_SHA256 ]]; then AGENT_SHA256=$(api_digest) || exit 1; fi
    elif [[ -f $AGENT_PATH ]]; then
      say "no new agent bundle found: keeping the installed one"
      return 0
    else
      die "no agent bundle to install. Build it in a gpupool checkout with: npm ci && npm run build:agent
  then run this script from that checkout (agent/install/install.sh), or pass --agent-file path/to/$BUNDLE_NAME"
    fi
  fi
  verify_digest
  node --check "$BUNDLE" 2>/dev/null || die "$BUNDLE is not a JavaScript module node can load"
}

# The digest the API publishes for its bundle, fetched over the same TLS-checked URL (never http:// to
# another host: validate_settings refuses that). Without it a downloaded agent is not installed.
api_digest() {
  local out=$DOWNLOAD_DIR/$BUNDLE_NAME.sha256 digest rc=0
  http GET "${SETTING[GPUPOOL_API_URL]}/agent/$BUNDLE_NAME.sha256" "$out" 2>/dev/null || rc=$?
  ((rc == 0)) || die "the API gave no digest for the agent (GET ${SETTING[GPUPOOL_API_URL]}/agent/$BUNDLE_NAME.sha256, exit $rc): not installing an agent that cannot be checked; pass --agent-sha256 HEX to check it against a digest you trust"
  read -r digest _ <"$out" || true
  [[ ${digest:-} =~ ^[0-9a-f]{64}$ ]] || die "the API's digest for the agent is not a SHA-256 digest: '${digest:-}'"
  printf '%s' "$digest"
}

# With a digest to check (--agent-sha256, or the API's for a download), the bundle must have exactly it.
verify_digest() {
  [[ -n $AGENT_SHA256 ]] || return 0
  local actual
  read -r actual _ < <(sha256sum "$BUNDLE")
  [[ $actual == "$AGENT_SHA256" ]] || die "the agent bundle $BUNDLE has SHA-256 $actual, not $AGENT_SHA256: refusing to install it"
  say "agent bundle verified: SHA-256 $actual"
}

install_agent() {
  [[ -n $BUNDLE ]] || return 0
  install -d -m 0755 "$OPT_DIR"
  install -m 0755 "$BUNDLE" "$OPT_DIR/.$BUNDLE_NAME.new"
  mv -f "$OPT_DIR/.$BUNDLE_NAME.new" "$AGENT_PATH"
  say "agent installed: $AGENT_PATH ($(wc -c <"$AGENT_PATH") bytes)"
}

has_user() {
  if [[ -n $ROOT ]]; then grep -q "^$1:" "$ROOT/etc/passwd" 2>/dev/null; else getent passwd "$1" >/dev/null; fi
}

has_group() {
  if [[ -n $ROOT ]]; then grep -q "^$1:" "$ROOT/etc/group" 2>/dev/null; else getent group "$1" >/dev/null; fi
}

# The prefix makes user tools edit $ROOT/etc/passwd and friends instead of the host's.
user_tool() {
  local tool=$1
  shift
  if [[ -n $ROOT ]]; then "$tool" --prefix "$ROOT" "$@"; else "$tool" "$@"; fi
}

ensure_user() {
  if [[ -n $ROOT && $EUID -ne 0 ]]; then
    say "not root: skipping the $AGENT_USER system user under --root $ROOT"
    return 0
  fi
  local groups=()
  if has_group docker; then groups=(--groups docker); fi
  if has_user "$AGENT_USER"; then
    if ((${#groups[@]} > 0)); then user_tool usermod --append "${groups[@]}" "$AGENT_USER"; fi
  else
    user_tool useradd --system --user-group --home-dir "$STATE_DIR_ON_HOST" --no-create-home \
      --shell /usr/sbin/nologin --comment 'gpupool agent' "${groups[@]}" "$AGENT_USER"
    say "created system user $AGENT_USER${groups[*]:+ (in group docker)}"
  fi
}

write_env() {
  install -d -m 0755 "$ETC_DIR"
  local tmp key
  tmp=$(mktemp "$ETC_DIR/.agent.env.XXXXXX")
  chmod 600 "$tmp"
  {
    echo '# gpupool agent settings, read by gpupool-agent.service. Written by install.sh: re-run it to change'
    echo '# them, or edit this file and run: systemctl restart gpupool-agent. Mode 600: it holds keys.'
    for key in $(printf '%s\n' "${!SETTING[@]}" | sort); do
      if [[ -n ${SETTING[$key]} ]]; then printf '%s=%s\n' "$key" "${SETTING[$key]}"; fi
    done
  } >"$tmp"
  mv -f "$tmp" "$ENV_FILE"
  say "settings written: $ENV_FILE (mode 600)"
}

write_unit() {
  local template node
  if [[ -n $UNIT_INLINE ]]; then
    template=$UNIT_INLINE
  elif [[ -n $SCRIPT_DIR && -f $SCRIPT_DIR/gpupool-agent.service ]]; then
    template=$(<"$SCRIPT_DIR/gpupool-agent.service")
  else
    die "gpupool-agent.service not found next to this script; use the copy the API serves at /install.sh"
  fi
  node=$(command -v node)
  template=${template//@NODE@/$node}
  if ! has_group docker; then template=$(grep -v '^SupplementaryGroups=docker$' <<<"$template"); fi
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
  if systemctl is-active --quiet "$SERVICE"; then
    say 'restarting the agent: it drains first (running jobs finish, up to GPUPOOL_DRAIN_SECONDS)'
  fi
  systemctl restart "$SERVICE"
}

wait_online() {
  if ((!SYSTEMD)); then return 0; fi
  if [[ -z ${SETTING[GPUPOOL_PROVIDER_KEY]:-} ]]; then
    say "started; without a provider key this script cannot look the node up: check it with journalctl -u ${SERVICE%.service}"
    return 0
  fi
  local deadline=$((SECONDS + WAIT_SECONDS)) id='' body status last=''
  say "waiting up to ${WAIT_SECONDS}s for the node to come ONLINE"
  while ((SECONDS < deadline)); do
    if systemctl is-failed --quiet "$SERVICE"; then
      journalctl -u "$SERVICE" -n 30 --no-pager >&2 || true
      die "the agent stopped; its log is above (journalctl -u ${SERVICE%.service})"
    fi
    id=$(node_id)
    if [[ -n $id ]] && body=$(HTTP_KEY=${SETTING[GPUPOOL_PROVIDER_KEY]} http GET "${SETTING[GPUPOOL_API_URL]}/v1/nodes/$id" 2>/dev/null); then
      status=$(json_field node.status <<<"$body")
      if [[ $status == ONLINE ]]; then
        say "node $id is ONLINE with $(json_field node.totalGpus <<<"$body") GPU(s). Check it any time:"
        say "  systemctl status ${SERVICE%.service}; journalctl -u ${SERVICE%.service} -f"
        return 0
      fi
      if [[ $status != "$last" ]]; then say "node $id is $status; waiting"; fi
      last=$status
    fi
    sleep 2
  done
  die "the node did not come ONLINE within ${WAIT_SECONDS}s${id:+ (node $id)}; see: journalctl -u ${SERVICE%.service} -n 50"
}

do_install() {
  if [[ -z $ROOT && $EUID -ne 0 ]]; then die 'run as root (sudo), or with --root DIR for a test install'; fi
  load_settings
  validate_settings
  ensure_host
  resolve_bundle
  install_agent
  [[ -f $AGENT_PATH ]] || die "no agent at $AGENT_PATH"
  ensure_user
  write_env
  write_unit
  start_service
  wait_online
  say 'done'
}

# -------------------------------------------------------------------------------------------- uninstall

do_uninstall() {
  if [[ -z $ROOT && $EUID -ne 0 ]]; then die 'run as root (sudo)'; fi
  load_settings
  local id deregistered=1 rc=0
  id=$(node_id)
  if ((SYSTEMD)) && [[ -f $UNIT_PATH ]]; then
    say 'stopping the agent: it drains first (running jobs finish, up to GPUPOOL_DRAIN_SECONDS)'
    systemctl disable --now "$SERVICE" || warn "systemctl could not stop $SERVICE"
  fi
  if [[ -n $id ]]; then
    deregistered=0
    if [[ -z ${SETTING[GPUPOOL_API_URL]:-} || -z ${SETTING[GPUPOOL_PROVIDER_KEY]:-} ]]; then
      warn "node $id stays registered: no API URL or provider key (pass --api-url and --provider-key)"
    else
      HTTP_KEY=${SETTING[GPUPOOL_PROVIDER_KEY]} http DELETE "${SETTING[GPUPOOL_API_URL]}/v1/nodes/$id" >/dev/null || rc=$?
      if ((rc == 0 || rc == 44)); then
        deregistered=1
        say "node $id deregistered"
      else
        warn "could not deregister node $id (exit $rc); run this again, or DELETE ${SETTING[GPUPOOL_API_URL]}/v1/nodes/$id with the provider key"
      fi
    fi
  fi
  rm -f "$UNIT_PATH"
  if ((SYSTEMD)); then systemctl daemon-reload || true; fi
  rm -rf "$ETC_DIR" "$OPT_DIR"
  if ((deregistered)); then
    rm -rf "$STATE_DIR"
  else
    warn "keeping $STATE_DIR (the node's identity) until the node is deregistered"
  fi
  if [[ -n $ROOT && $EUID -ne 0 ]]; then
    say "not root: leaving the $AGENT_USER system user under --root $ROOT"
  elif has_user "$AGENT_USER"; then
    user_tool userdel "$AGENT_USER" || warn "could not remove the $AGENT_USER user"
  fi
  say 'removed the gpupool agent'
}

cleanup() {
  if [[ -n $DOWNLOAD_DIR ]]; then rm -rf "$DOWNLOAD_DIR"; fi
}

main() {
  trap cleanup EXIT
  parse_args "$@"
  set_paths
  case $MODE in
    check)
      load_settings
      check_host
      if ((${#PROBLEMS[@]} > 0)); then
        report_problems
        die "${#PROBLEMS[@]} thing(s) missing"
      fi
      say 'this host has everything the agent needs'
      ;;
    uninstall) do_uninstall ;;
    install) do_install ;;
  esac
}

main "$@"
