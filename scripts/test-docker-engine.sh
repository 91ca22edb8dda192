#!/usr/bin/env bash
# A private Docker Engine for the test suite that changes nothing on the host's networking.
#
#   scripts/test-docker-engine.sh start [DIR]   prints DOCKER_HOST=unix://DIR/docker.sock (last line)
#   scripts/test-docker-engine.sh stop  [DIR]   stops that engine by its pid and removes DIR
#
# DIR defaults to $GPUPOOL_TEST_DOCKER_DIR, else /tmp/gpupool-docker-engine. `start` on a DIR whose engine
# already answers only prints DOCKER_HOST again (several test files share one engine). Exit codes: 0 ready,
# 2 cannot run here (not root, package not installable): tests skip and print the message; 1 anything else.
#
# Never `service docker start`: Debian's unit starts a daemon that creates docker0 and rewrites iptables.
# This one runs with no bridge, no iptables, no forwarding; its data root, exec root, socket and pid file
# live under DIR; pulls go through a dead loopback proxy so nothing reaches out (loopback registries, as
# the tests use, bypass the proxy). Test images are built here from Debian's busybox-static, FROM scratch.
set -euo pipefail

cmd="${1:-}"
dir="${2:-${GPUPOOL_TEST_DOCKER_DIR:-/tmp/gpupool-docker-engine}}"
sock="$dir/docker.sock"
pidfile="$dir/dockerd.pid"
export DOCKER_HOST="unix://$sock"
# the test images, each a busybox FROM scratch under its own name
IMAGES=(gpupool-test/busybox:1)

cannot() {
  echo "test-docker-engine: $*" >&2
  exit 2
}

answers() { timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

ensure_packages() {
  [ "$(id -u)" = 0 ] || cannot "not root: a private dockerd needs root (run the suite as root, or in CI)"
  if ! command -v dockerd >/dev/null || [ ! -x /bin/busybox ] || ! dpkg -s busybox-static >/dev/null 2>&1; then
    command -v apt-get >/dev/null || cannot "docker.io and busybox-static are missing and there is no apt-get"
    echo "test-docker-engine: installing docker.io and busybox-static" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io busybox-static; } >&2 ||
      cannot "could not install docker.io and busybox-static with apt-get"
  fi
  command -v docker >/dev/null || cannot "no docker CLI on PATH"
}

build_images() {
  local ctx="$dir/build"
  mkdir -p "$ctx"
  cp /bin/busybox "$ctx/busybox"
  cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh"]
EOF
  for image in "${IMAGES[@]}"; do
    docker image inspect "$image" >/dev/null 2>&1 || DOCKER_BUILDKIT=0 docker build -q -t "$image" "$ctx" >&2
  done
}

start() {
  # test files start in parallel: one of them starts the engine, the others wait and share it
  mkdir -p "$dir"
  exec 9>"$dir.lock"
  flock 9
  if [ -S "$sock" ] && answers; then
    echo "DOCKER_HOST=$DOCKER_HOST"
    return
  fi
  ensure_packages
  mkdir -p "$dir/data" "$dir/exec"
  # "deprecated-key-path" keeps dockerd from writing /etc/docker/key.json
  printf '{"deprecated-key-path": "%s/key.json"}\n' "$dir" >"$dir/daemon.json"
  # setsid: the engine outlives the shell that started it (a test worker), and is stopped by its pid
  HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= setsid dockerd \
    --iptables=false --ip6tables=false --bridge=none --ip-forward=false --ip-masq=false \
    --data-root "$dir/data" --exec-root "$dir/exec" -H "unix://$sock" \
    --pidfile "$pidfile" --config-file "$dir/daemon.json" >"$dir/dockerd.log" 2>&1 </dev/null &
  local pid=$!
  for _ in $(seq 1 300); do
    if [ -S "$sock" ] && answers; then
      build_images
      echo "DOCKER_HOST=$DOCKER_HOST"
      return
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$dir/dockerd.log" >&2 || true
  kill "$pid" 2>/dev/null || true
  echo "test-docker-engine: dockerd did not start (log above)" >&2
  exit 1
}

stop() {
  [ -d "$dir" ] || return 0
  if [ -f "$pidfile" ]; then
    local pid
    pid="$(cat "$pidfile")"
    # containers first, so no runc shim outlives the engine
    if answers; then
      local ids
      ids="$(docker ps -aq)"
      [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
    fi
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # whatever dockerd left mounted under DIR (its netns, a stray overlay), deepest first
  { findmnt -rn -o TARGET | grep -F "$dir/" || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$dir" "$dir.lock"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: $0 start|stop [DIR]" >&2
    exit 64
    ;;
esac
