#!/bin/bash
# Multi-platform and output benchmarks of issue 15, side by side with rootless buildah:
#   1. the extra cost of a two-platform build (linux/amd64 + linux/arm64, RUN for arm64
#      through qemu-user) of the busybox-steps case, cold, over a one-platform build:
#      rootless-build build --platform A,B -t X   vs   buildah bud --platform A,B --manifest X
#      (the case's FROM switched to busybox-multi:latest, the seeded amd64+arm64 index)
#   2. `build -o type=oci` of the bigfile image (a FROM-only Dockerfile over it: the build
#      is cached, the export is what is timed; the gzip variant removed before each run)
#      against `buildah push IMAGE oci-archive:FILE` (target <= 0.5x).
# Prints the means and the ratios. Runs as the unprivileged user (as root: re-runs itself
# as rbuild). Environment: RB_BENCH_RUNS (default 3), RB_BENCH_REGISTRY (localhost:5000),
# RB_BENCH_CASES (default ../shared/bench-cases or $RB_BENCH_DIR/cases), RB_CLI.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ "$(id -u)" = 0 ]; then
    exec "$repo/scripts/as-user" bash "$here/platforms.sh" "$@"
fi

runs=${RB_BENCH_RUNS:-3}
registry=${RB_BENCH_REGISTRY:-localhost:5000}
cli=${RB_CLI:-rootless-build}
cases=${RB_BENCH_CASES:-${RB_BENCH_DIR:+$RB_BENCH_DIR/cases}}
cases=${cases:-$repo/../shared/bench-cases}
busybox_tar=${RB_TEST_CACHE:-/var/cache/rootless-build-test}/busybox.tar
for tool in hyperfine buildah python3 openssl; do
    command -v "$tool" >/dev/null || { echo "platforms.sh: $tool not found" >&2; exit 1; }
done
curl -sf -o /dev/null "http://$registry/v2/busybox-multi/manifests/latest" \
    -H 'Accept: application/vnd.oci.image.index.v1+json' ||
    { echo "platforms.sh: no $registry/busybox-multi:latest (scripts/seed-registry.sh)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/rb-bench-platforms.XXXXXX")
buildah=(buildah --root "$work/buildah-root" --runroot "$work/buildah-run" --storage-driver vfs)
cleanup() {
    "${buildah[@]}" rmi -a -f >/dev/null 2>&1 || true
    buildah unshare rm -rf "$work" 2>/dev/null || rm -rf "$work"
}
trap cleanup EXIT
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
bcmd=$(printf '%q ' "${buildah[@]}")

# -- 1. two platforms against one ---------------------------------------------------------
ctx=$work/steps
cp -r "$cases/busybox-steps" "$ctx"
chmod -R u+w "$ctx"
sed -i 's|/busybox:latest|/busybox-multi:latest|' "$ctx/Dockerfile"
store=$(q "$work/store")
wipe="buildah unshare rm -rf $store $(q "$work/buildah-root") $(q "$work/buildah-run")"
ours="$cli --root $store build -q --tls-verify=false --build-arg REGISTRY=$registry"
theirs="$bcmd bud --layers -q --tls-verify=false --build-arg REGISTRY=$registry"
echo "== busybox-steps, cold: one platform vs linux/amd64,linux/arm64 ($runs runs each)"
hyperfine --style basic --runs "$runs" --export-json "$work/platforms.json" --prepare "$wipe" \
    --command-name "rootless-build 1 platform" "$ours -t one $(q "$ctx")" \
    --command-name "rootless-build 2 platforms" "$ours --platform linux/amd64,linux/arm64 -t two $(q "$ctx")" \
    --command-name "buildah 1 platform" "$theirs -t one $(q "$ctx")" \
    --command-name "buildah 2 platforms" \
    "$theirs --platform linux/amd64,linux/arm64 --manifest two $(q "$ctx")"

# -- 2. -o type=oci of bigfile against buildah push oci-archive ------------------------------
image=localhost/rb-bench-bigfile:latest
bigstore=$work/bigstore
mkdir -p "$work/big/data"
{ openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass pass:rig-bigfile </dev/zero 2>/dev/null || true; } |
    head -c 524288000 >"$work/big/data/big.bin"
cp "$busybox_tar" "$work/rootfs.tar"
chmod u+w "$work/rootfs.tar"
tar --owner=0 --group=0 --numeric-owner --mtime=@0 -rf "$work/rootfs.tar" -C "$work/big" data
rm -rf "$work/big"
$cli --root "$bigstore" import "$work/rootfs.tar" "$image" >/dev/null
rm -f "$work/rootfs.tar"
$cli --root "$bigstore" save --format docker-archive -o "$work/image-docker.tar" "$image"
"${buildah[@]}" pull -q "docker-archive:$work/image-docker.tar" >/dev/null
rm -f "$work/image-docker.tar"
mkdir -p "$work/from"
echo "FROM $image" >"$work/from/Dockerfile"
out=$(q "$work/out.tar")
echo
echo "== bigfile: build -o type=oci (gzip, variant removed each run) vs buildah push oci-archive ($runs runs)"
hyperfine --style basic --runs "$runs" --export-json "$work/export.json" \
    --prepare "rm -rf $(q "$bigstore/cache/variants") $out" --command-name "rootless-build -o type=oci" \
    "$cli --root $(q "$bigstore") build -q -t out -o type=oci,dest=$out $(q "$work/from")" \
    --prepare "rm -f $out" --command-name "buildah push oci-archive" \
    "$bcmd push -q $image oci-archive:$out"

python3 - "$work/platforms.json" "$work/export.json" <<'PY'
import json, sys
one, two, b_one, b_two = (r["mean"] for r in json.load(open(sys.argv[1]))["results"])
ours_extra, their_extra = two - one, b_two - b_one
print()
print(f"two-platform busybox-steps, cold: rootless-build {one:.2f} s -> {two:.2f} s (extra {ours_extra:.2f} s); "
      f"buildah {b_one:.2f} s -> {b_two:.2f} s (extra {their_extra:.2f} s)")
print(f"  ratio of the extra costs (ours / buildah's) {ours_extra / their_extra:5.2f}; "
      f"of the two-platform builds {two / b_two:5.2f}")
export, push = (r["mean"] for r in json.load(open(sys.argv[2]))["results"])
print(f"-o type=oci of bigfile {export:.2f} s, buildah push oci-archive {push:.2f} s: "
      f"ratio {export / push:5.2f} (target <= 0.50)")
PY
