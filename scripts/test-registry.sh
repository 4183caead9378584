#!/bin/bash
# A real Debian docker-registry (distribution 2.8) on 127.0.0.1 for tests and benchmarks.
# Usage: test-registry.sh start|stop|status [PORT] [DIR]
#   PORT default 5000; DIR default ${TMPDIR:-/tmp}/rootless-build-registry-PORT-$USER
#   DIR holds config.yml, data/ (filesystem storage, kept across restarts), registry.pid
#   and registry.log. Deletion is enabled. Set RB_REGISTRY_HTPASSWD=FILE to require basic
#   auth. Runs as whoever calls it (no root needed).
set -euo pipefail

action=${1:-}
port=${2:-5000}
dir=${3:-${TMPDIR:-/tmp}/rootless-build-registry-$port-$(id -un)}
pidfile=$dir/registry.pid
url=http://127.0.0.1:$port/v2/

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
# Any HTTP answer from /v2/ (200, or 401 with auth) means the registry is serving.
answering() {
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null) || return 1
    [ "$code" = 200 ] || [ "$code" = 401 ]
}

start() {
    if running; then
        echo "registry already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
        return 0
    fi
    command -v docker-registry >/dev/null || { echo "test-registry.sh: docker-registry not installed (make setup)" >&2; exit 1; }
    mkdir -p "$dir/data"
    {
        echo "version: 0.1"
        echo "log:"
        echo "  level: warn"
        echo "  accesslog:"
        echo "    disabled: true"
        echo "storage:"
        echo "  filesystem:"
        echo "    rootdirectory: $dir/data"
        echo "  delete:"
        echo "    enabled: true"
        echo "  maintenance:"
        echo "    uploadpurging:"
        echo "      enabled: false"
        echo "http:"
        echo "  addr: 127.0.0.1:$port"
        echo "  secret: rootless-build-test"
        if [ -n "${RB_REGISTRY_HTPASSWD:-}" ]; then
            echo "auth:"
            echo "  htpasswd:"
            echo "    realm: rootless-build-test"
            echo "    path: $RB_REGISTRY_HTPASSWD"
        fi
    } >"$dir/config.yml"
    # setsid: the registry must not die with the shell (or make recipe) that started it.
    setsid docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    for _ in $(seq 100); do
        if answering; then
            echo "registry running on 127.0.0.1:$port (pid $(cat "$pidfile"), storage $dir/data)"
            return 0
        fi
        if ! running; then break; fi
        sleep 0.1
    done
    echo "test-registry.sh: registry on 127.0.0.1:$port did not come up; last log lines:" >&2
    tail -n 20 "$dir/registry.log" >&2
    stop >/dev/null
    exit 1
}

stop() {
    if running; then
        local pid
        pid=$(cat "$pidfile")
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        echo "registry on 127.0.0.1:$port stopped"
    else
        echo "registry on 127.0.0.1:$port not running"
    fi
    rm -f "$pidfile"
}

status() {
    if running && answering; then
        echo "registry running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
    else
        echo "registry on 127.0.0.1:$port not running"
        return 1
    fi
}

case $action in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: test-registry.sh start|stop|status [PORT] [DIR]" >&2; exit 2 ;;
esac
