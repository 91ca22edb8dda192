#!/usr/bin/env bash
# A private Docker Engine for the test suite that changes nothing on the host's networking.
#
#   scripts/test-docker-engine.sh start [DIR]   prints DOCKER_HOST=unix://DIR/docker.sock (last line)
#   scripts/test-docker-engine.sh stop  [DIR]   stops that engine (and the registry) by pid and removes DIR
#   scripts/test-docker-engine.sh registry [DIR] (engine started) a local registry on a free loopback port,
#                                               the test image pushed to it; prints REGISTRY=127.0.0.1:PORT
#   scripts/test-docker-engine.sh private-registry [DIR] (engine started) a second registry that requires a
#                                               login (htpasswd, bcrypt), the test image pushed to it as
#                                               gpupool-test/private:1; prints PRIVATE_REGISTRY=127.0.0.1:PORT,
#                                               PRIVATE_USER=… and PRIVATE_PASSWORD=… (last three lines)
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
regpid="$dir/registry.pid"
regaddr="$dir/registry.addr"
privpid="$dir/private-registry.pid"
privaddr="$dir/private-registry.addr"
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
  # setsid: the engine outlives the shell that started it (a test worker), and is stopped by its pid;
  # 9>&-: it must not inherit the lock, or every later `start` on DIR would wait for it forever
  HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= setsid dockerd \
    --iptables=false --ip6tables=false --bridge=none --ip-forward=false --ip-masq=false \
    --data-root "$dir/data" --exec-root "$dir/exec" -H "unix://$sock" \
    --pidfile "$pidfile" --config-file "$dir/daemon.json" >"$dir/dockerd.log" 2>&1 </dev/null 9>&- &
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

# Debian's docker-registry, used as it is when installed, else unpacked under DIR from apt's cache
# (apt-get --download-only): installing it would enable a service on :5000, which the tests must not use.
registry_bin() {
  if command -v docker-registry >/dev/null; then
    command -v docker-registry
    return
  fi
  local unpacked="$dir/registry-pkg/usr/bin/docker-registry"
  if [ ! -x "$unpacked" ]; then
    local deb
    deb="$(ls /var/cache/apt/archives/docker-registry_*.deb 2>/dev/null | tail -n 1 || true)"
    if [ -z "$deb" ]; then
      command -v apt-get >/dev/null || cannot "docker-registry is missing and there is no apt-get"
      { apt-get install -y -qq --download-only --no-install-recommends docker-registry ||
        { apt-get update -qq && apt-get install -y -qq --download-only --no-install-recommends docker-registry; }; } >&2 ||
        cannot "could not download docker-registry with apt-get"
      deb="$(ls /var/cache/apt/archives/docker-registry_*.deb 2>/dev/null | tail -n 1 || true)"
      [ -n "$deb" ] || cannot "apt-get left no docker-registry package in its cache"
    fi
    dpkg-deb -x "$deb" "$dir/registry-pkg" >&2
  fi
  echo "$unpacked"
}

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
registry_answers() { curl -sf -o /dev/null --max-time 2 "http://$1/v2/"; }

registry() {
  [ -d "$dir" ] || cannot "start the engine first ($0 start $dir)"
  exec 9>"$dir.lock"
  flock 9
  if [ -f "$regaddr" ] && registry_answers "$(cat "$regaddr")"; then
    echo "REGISTRY=$(cat "$regaddr")"
    return
  fi
  answers || { echo "test-docker-engine: the engine in $dir does not answer" >&2; exit 1; }
  command -v curl >/dev/null || cannot "no curl to see the registry answer"
  local bin port
  bin="$(registry_bin)"
  mkdir -p "$dir/registry"
  for _ in 1 2 3; do
    port="$(free_port)"
    cat >"$dir/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/registry/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
    setsid "$bin" serve "$dir/registry/config.yml" >"$dir/registry.log" 2>&1 </dev/null 9>&- &
    echo $! >"$regpid"
    for _ in $(seq 1 100); do
      if registry_answers "127.0.0.1:$port"; then
        echo "127.0.0.1:$port" >"$regaddr"
        # the test image, pushed under the registry's name (dockerd allows 127.0.0.0/8 without TLS)
        for image in "${IMAGES[@]}"; do
          docker tag "$image" "127.0.0.1:$port/$image" >&2
          docker push -q "127.0.0.1:$port/$image" >&2
        done
        echo "REGISTRY=127.0.0.1:$port"
        return
      fi
      kill -0 "$(cat "$regpid")" 2>/dev/null || break
      sleep 0.1
    done
    kill "$(cat "$regpid")" 2>/dev/null || true
  done
  tail -n 20 "$dir/registry.log" >&2 || true
  echo "test-docker-engine: docker-registry did not start (log above)" >&2
  exit 1
}

# a bcrypt htpasswd line: apache2-utils' htpasswd where installed, else Python's crypt (libxcrypt's $2b$)
htpasswd_line() {
  if command -v htpasswd >/dev/null; then
    htpasswd -Bbn "$1" "$2"
    return
  fi
  command -v python3 >/dev/null || cannot "neither htpasswd (apache2-utils) nor python3 to make a bcrypt entry"
  GPUPOOL_U="$1" GPUPOOL_P="$2" python3 -W ignore -c 'import crypt,os; h=crypt.crypt(os.environ["GPUPOOL_P"], crypt.mksalt(crypt.METHOD_BLOWFISH)); assert h and h.startswith("$2"); print(os.environ["GPUPOOL_U"] + ":" + h)' 2>/dev/null ||
    cannot "no htpasswd (apache2-utils) and Python's crypt has no bcrypt"
}

private_registry() {
  [ -d "$dir" ] || cannot "start the engine first ($0 start $dir)"
  exec 9>"$dir.lock"
  flock 9
  local pdir="$dir/private-registry"
  if [ -f "$privaddr" ] && curl -s -o /dev/null --max-time 2 "http://$(cat "$privaddr")/v2/"; then
    echo "PRIVATE_REGISTRY=$(cat "$privaddr")"
    cat "$pdir/credentials"
    return
  fi
  answers || { echo "test-docker-engine: the engine in $dir does not answer" >&2; exit 1; }
  command -v curl >/dev/null || cannot "no curl to see the registry answer"
  local bin port user=gpupool password cfg
  bin="$(registry_bin)"
  mkdir -p "$pdir"
  password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
  htpasswd_line "$user" "$password" >"$pdir/htpasswd"
  printf 'PRIVATE_USER=%s\nPRIVATE_PASSWORD=%s\n' "$user" "$password" >"$pdir/credentials"
  chmod 600 "$pdir/htpasswd" "$pdir/credentials"
  for _ in 1 2 3; do
    port="$(free_port)"
    cat >"$pdir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $pdir/data
http:
  addr: 127.0.0.1:$port
auth:
  htpasswd:
    realm: gpupool-test
    path: $pdir/htpasswd
EOF
    setsid "$bin" serve "$pdir/config.yml" >"$dir/private-registry.log" 2>&1 </dev/null 9>&- &
    echo $! >"$privpid"
    for _ in $(seq 1 100); do
      # 401 without credentials: it answers, and asks for a login
      if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/v2/")" = 401 ]; then
        echo "127.0.0.1:$port" >"$privaddr"
        # pushed under a login kept in a config directory of its own, removed at once: the engine keeps none
        cfg="$(mktemp -d)"
        printf '%s' "$password" | DOCKER_CONFIG="$cfg" docker login -u "$user" --password-stdin "127.0.0.1:$port" >&2
        docker tag "${IMAGES[0]}" "127.0.0.1:$port/gpupool-test/private:1" >&2
        DOCKER_CONFIG="$cfg" docker push -q "127.0.0.1:$port/gpupool-test/private:1" >&2
        docker rmi "127.0.0.1:$port/gpupool-test/private:1" >&2
        rm -rf "$cfg"
        echo "PRIVATE_REGISTRY=127.0.0.1:$port"
        cat "$pdir/credentials"
        return
      fi
      kill -0 "$(cat "$privpid")" 2>/dev/null || break
      sleep 0.1
    done
    kill "$(cat "$privpid")" 2>/dev/null || true
  done
  tail -n 20 "$dir/private-registry.log" >&2 || true
  echo "test-docker-engine: the private docker-registry did not start (log above)" >&2
  exit 1
}

stop() {
  [ -d "$dir" ] || return 0
  if [ -f "$regpid" ]; then
    kill "$(cat "$regpid")" 2>/dev/null || true
  fi
  if [ -f "$privpid" ]; then
    kill "$(cat "$privpid")" 2>/dev/null || true
  fi
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
  registry) registry ;;
  private-registry) private_registry ;;
  *)
    echo "usage: $0 start|stop|registry|private-registry [DIR]" >&2
    exit 64
    ;;
esac
