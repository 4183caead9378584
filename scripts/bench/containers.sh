#!/bin/bash
# Containers benchmark, side by side with rootless podman (runc) on the same image:
#   1. `run --rm IMAGE true` latency (CLI start to container gone)
#   2. `commit` of a container that created 20,000 new files
# Prints each mean and the ratio rootless-build / podman (target: <= 1).
# Run as the unprivileged user; as root it re-runs itself as rbuild (scripts/as-user).
# Environment: RB_BENCH_RUNS (default 10), RB_TEST_CACHE (busybox.tar's directory).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ "$(id -u)" = 0 ]; then
    exec "$repo/scripts/as-user" bash scripts/bench/containers.sh "$@"
fi

runs=${RB_BENCH_RUNS:-10}
busybox_tar=${RB_TEST_CACHE:-/var/cache/rootless-build-test}/busybox.tar
[ -r "$busybox_tar" ] || { echo "containers.sh: $busybox_tar missing (make testdata)" >&2; exit 1; }
for tool in hyperfine podman skopeo rootless-build; do
    command -v "$tool" >/dev/null || { echo "containers.sh: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/rb-bench-containers.XXXXXX")
store=$work/store
rb="rootless-build --root $store"
image=localhost:5000/busybox:latest
podman_image=localhost/rb-bench-busybox:latest
tag=rb-bench-$$

cleanup() {
    $rb rm -f rb-bench-20k >/dev/null 2>&1 || true
    podman rm -f "$tag-20k" >/dev/null 2>&1 || true
    podman rmi -f "$podman_image" "localhost/$tag-committed:latest" >/dev/null 2>&1 || true
    # each `podman commit` left the previous one dangling: those carry our author string
    for id in $(podman images -q --filter dangling=true 2>/dev/null); do
        if [ "$(podman image inspect --format '{{.Author}}' "$id" 2>/dev/null)" = "$tag" ]; then
            podman rmi -f "$id" >/dev/null 2>&1 || true
        fi
    done
    # the store's unpacked layers hold subordinate-id files
    rootless-build unshare rm -rf "$work" 2>/dev/null || rm -rf "$work"
}
trap cleanup EXIT

# The same image for both: ours imported from the rootfs tar, podman's copied from our store.
$rb import "$busybox_tar" "$image" >/dev/null
skopeo copy -q "oci:$store:$image" "oci-archive:$work/busybox-oci.tar:$podman_image"
podman load -q -i "$work/busybox-oci.tar" >/dev/null
rm -f "$work/busybox-oci.tar"

report() { # TITLE JSON: means and medians (the median shrugs off a busy machine's spikes)
    python3 - "$1" "$2" <<'PY'
import json, sys
title, path = sys.argv[1], sys.argv[2]
ours, theirs = json.load(open(path))["results"]
for stat in ("mean", "median"):
    a, b = ours[stat], theirs[stat]
    print(f"{title:<28} {stat:<6}  rootless-build {a:7.3f} s   podman {b:7.3f} s   ratio {a / b:5.2f}")
PY
}

echo "== run --rm IMAGE true ($runs runs each, after 2 warm-up runs)"
hyperfine --style basic --warmup 2 --runs "$runs" --export-json "$work/run.json" \
    --command-name "rootless-build run --rm" "$rb run --rm $image true" \
    --command-name "podman run --rm" "podman run --rm $podman_image true"

echo "== commit of a container with 20,000 new files"
make_files='mkdir /data && cd /data && for d in $(seq 0 99); do mkdir d$d && for f in $(seq 0 199); do echo "file $d/$f" > d$d/f$f; done; done'
$rb run --name rb-bench-20k "$image" sh -c "$make_files"
podman run --name "$tag-20k" "$podman_image" sh -c "$make_files"
commit_runs=$(( runs < 5 ? runs : 5 ))
hyperfine --style basic --warmup 1 --runs "$commit_runs" --export-json "$work/commit.json" \
    --command-name "rootless-build commit" "$rb commit -a $tag rb-bench-20k $tag-committed:latest" \
    --command-name "podman commit" "podman commit -q -a $tag $tag-20k $tag-committed:latest"

echo
echo "== summary (ratio = rootless-build / podman, target <= 1)"
report "run --rm IMAGE true" "$work/run.json"
report "commit (20,000 new files)" "$work/commit.json"
