#!/bin/bash
# A private dockerd (Debian's docker.io) for tests only: the reference builder and consumer.
# Usage (as root, or through sudo as the test user -- setup-host.sh installs this file
# root-owned at /usr/local/libexec/rootless-build/test-dockerd with a sudoers rule):
#   test-dockerd start DIR   DIR: an existing directory owned by the caller. dockerd gets its
#                            socket at DIR/docker.sock (group: the caller's), data root and
#                            exec root under DIR/d, log DIR/dockerd.log; no bridge, no iptables.
#   test-dockerd stop DIR    stops it, unmounts what it left and removes DIR/d.
# The product never uses docker; only tests and benchmarks do.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

action=${1:-}
dir=${2:-}
say() { echo "test-dockerd: $*" >&2; }
[ "$(id -u)" = 0 ] || { say "must run as root"; exit 1; }
case "$dir" in /*) ;; *) say "DIR must be an absolute path"; exit 2 ;; esac
[ -d "$dir" ] && [ ! -L "$dir" ] || { say "$dir: not a directory"; exit 2; }
[ "$(realpath -e "$dir")" = "$dir" ] || { say "$dir: must be a canonical path"; exit 2; }
caller=${SUDO_UID:-0}
[ "$(stat -c %u "$dir")" = "$caller" ] || { say "$dir: not owned by the caller"; exit 2; }
group=$(id -gn "$caller")
state=$dir/d
pidfile=$state/dockerd.pid
sock=$dir/docker.sock

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

stop() {
    if running; then
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    # dockerd's own containerd and shims, if any outlived it.
    pkill -f -- "--state $state/" 2>/dev/null || true
    pkill -f -- "$state/exec/containerd" 2>/dev/null || true
    if [ -d "$state" ]; then
        { findmnt -rn -o TARGET | grep -F "$state/" || true; } | sort -r | while read -r m; do
            umount -l "$m" 2>/dev/null || true
        done
        rm -rf --one-file-system "$state"
    fi
    rm -f "$sock" "$dir/dockerd.log"
}

start() {
    command -v dockerd >/dev/null || { say "dockerd not installed (make setup)"; exit 1; }
    if running; then say "already running"; return 0; fi
    install -d -m 0711 "$state" "$state/data" "$state/exec"
    setsid dockerd \
        --host "unix://$sock" --group "$group" \
        --data-root "$state/data" --exec-root "$state/exec" --pidfile "$pidfile" \
        --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
        --userland-proxy=false --insecure-registry 127.0.0.0/8 --insecure-registry localhost:5000 \
        --log-level warn >"$dir/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 300); do
        if [ -S "$sock" ] && /usr/bin/docker -H "unix://$sock" version >/dev/null 2>&1; then
            chmod 0644 "$dir/dockerd.log"
            return 0
        fi
        sleep 0.1
    done
    say "dockerd did not answer on $sock within 30 s; its log:"
    tail -n 20 "$dir/dockerd.log" >&2 || true
    stop
    exit 1
}

case "$action" in
    start) start ;;
    stop) stop ;;
    *) say "usage: test-dockerd start|stop DIR"; exit 2 ;;
esac
