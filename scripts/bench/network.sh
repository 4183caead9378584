#!/bin/bash
# Network benchmark, side by side with rootless podman (runc, slirp4netns) on the same image:
#   1. `run --rm IMAGE true` with the default network (slirp4netns) and seccomp profile,
#      and with --network host (what `run` did before it had a network of its own)
#   2. `run -d -p PORT:80 IMAGE httpd` until the published port answers on 127.0.0.1
# Prints each mean and median and the ratio rootless-build / podman (target: <= 1).
# Run as the unprivileged user; as root it re-runs itself as rbuild (scripts/as-user).
# Environment: RB_BENCH_RUNS (default 10), RB_TEST_CACHE (busybox.tar's directory), RB_BENCH_RB
# (the command measured; a work tree: 'env PYTHONSAFEPATH=1 PYTHONPATH=TREE python -m rootless_build',
# PYTHONSAFEPATH since -m would put the current directory, /opt/rootless-build/src, first).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ "$(id -u)" = 0 ]; then
    exec "$repo/scripts/as-user" bash "$here/network.sh" "$@"
fi

runs=${RB_BENCH_RUNS:-10}
busybox_tar=${RB_TEST_CACHE:-/var/cache/rootless-build-test}/busybox.tar
[ -r "$busybox_tar" ] || { echo "network.sh: $busybox_tar missing (make testdata)" >&2; exit 1; }
for tool in hyperfine podman skopeo curl python3; do
    command -v "$tool" >/dev/null || { echo "network.sh: $tool not found" >&2; exit 1; }
done
rb_cmd=${RB_BENCH_RB:-rootless-build}

work=$(mktemp -d "${TMPDIR:-/tmp}/rb-bench-network.XXXXXX")
store=$work/store
rb="$rb_cmd --root $store"
image=localhost:5000/busybox:latest
podman_image=localhost/rb-bench-net-busybox:latest
tag=rb-bench-net-$$
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rb_port=$(free_port)
podman_port=$(free_port)

cleanup() {
    $rb rm -f "$tag-web" >/dev/null 2>&1 || true
    podman rm -f "$tag-web" >/dev/null 2>&1 || true
    podman rmi -f "$podman_image" >/dev/null 2>&1 || true
    $rb_cmd unshare rm -rf "$work" 2>/dev/null || rm -rf "$work"
}
trap cleanup EXIT

# The same image for both: ours imported from the rootfs tar, podman's copied from our store.
$rb import "$busybox_tar" "$image" >/dev/null
skopeo copy -q "oci:$store:$image" "oci-archive:$work/busybox-oci.tar:$podman_image"
podman load -q -i "$work/busybox-oci.tar" >/dev/null
rm -f "$work/busybox-oci.tar"

report() { # TITLE JSON OURS THEIRS: means and medians of two of the commands, and their ratio
    python3 - "$@" <<'PY'
import json, sys
title, path, ours, theirs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
results = json.load(open(path))["results"]
for stat in ("mean", "median"):
    a, b = results[ours][stat], results[theirs][stat]
    print(f"{title:<36} {stat:<6}  rootless-build {a:7.3f} s   podman {b:7.3f} s   ratio {a / b:5.2f}")
PY
}

echo "== run --rm IMAGE true ($runs runs each, after 2 warm-up runs)"
hyperfine --style basic --warmup 2 --runs "$runs" --export-json "$work/run.json" \
    --command-name "rootless-build run --rm (slirp4netns, seccomp)" "$rb run --rm $image true" \
    --command-name "podman run --rm (slirp4netns, seccomp)" "podman run --rm $podman_image true" \
    --command-name "rootless-build run --rm --network host" "$rb run --rm --network host $image true" \
    --command-name "podman run --rm --network host" "podman run --rm --network host $podman_image true"

# until the port answers: curl retries every 10 ms (connection refused, or slirp's reset)
until_up='for i in $(seq 1000); do curl -fs -o /dev/null -m 1 http://127.0.0.1:PORT/hostname && exit 0; sleep 0.01; done; exit 1'
echo "== run -d -p PORT:80 IMAGE httpd, until the port answers ($runs runs each)"
hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$work/publish.json" \
    --prepare "$rb rm -f $tag-web >/dev/null 2>&1 || true" \
    --command-name "rootless-build run -d -p" \
    "$rb run -d --name $tag-web -p $rb_port:80 $image httpd -f -p 80 -h /etc >/dev/null && ${until_up//PORT/$rb_port}" \
    --prepare "podman rm -f $tag-web >/dev/null 2>&1 || true" \
    --command-name "podman run -d -p" \
    "podman run -d --name $tag-web -p $podman_port:80 $podman_image httpd -f -p 80 -h /etc >/dev/null && ${until_up//PORT/$podman_port}"

echo
echo "== summary (ratio = rootless-build / podman, target <= 1)"
report "run --rm IMAGE true (default network)" "$work/run.json" 0 1
report "run --rm IMAGE true (--network host)" "$work/run.json" 2 3
report "run -d -p until the port answers" "$work/publish.json" 0 1
