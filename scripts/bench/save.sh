#!/bin/bash
# Export benchmark, side by side with rootless buildah on the same image (the bigfile
# case: busybox + one 500 MiB incompressible file), both writing a gzip oci-archive:
#   rootless-build save -o X.tar IMAGE            cold: the gzip variant of the layer is
#                                                 made (its record removed before each run)
#   rootless-build save -o X.tar IMAGE            warm: the remembered variant is reused
#   buildah push IMAGE oci-archive:X.tar          (compresses with gzip every time)
# Prints the means, the ratios against buildah (target: cold <= 0.5) and max RSS.
# Run as the unprivileged user; as root it re-runs itself as rbuild (scripts/as-user).
# Environment: RB_BENCH_RUNS (default 3), RB_TEST_CACHE (busybox.tar's directory),
# RB_CLI (the rootless-build command, default rootless-build), RB_BENCH_DIR (set by run.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ "$(id -u)" = 0 ]; then
    exec "$repo/scripts/as-user" bash scripts/bench/save.sh "$@"
fi

runs=${RB_BENCH_RUNS:-3}
busybox_tar=${RB_TEST_CACHE:-/var/cache/rootless-build-test}/busybox.tar
cli=${RB_CLI:-rootless-build}
[ -r "$busybox_tar" ] || { echo "save.sh: $busybox_tar missing (make testdata)" >&2; exit 1; }
for tool in hyperfine buildah openssl python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "save.sh: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/var/tmp}/rb-bench-save.XXXXXX")
store=$work/store
rb="$cli --root $store"
buildah=(buildah --root "$work/buildah-root" --runroot "$work/buildah-run" --storage-driver vfs)
image=localhost/rb-bench-bigfile:latest

cleanup() {
    "${buildah[@]}" rmi -a -f >/dev/null 2>&1 || true
    buildah unshare rm -rf "$work" 2>/dev/null || rm -rf "$work"
}
trap cleanup EXIT

# The image: busybox's rootfs plus /data/big.bin (500 MiB, AES-CTR keystream, as the
# bigfile case's prepare.sh makes it), imported as one layer. Buildah gets the very same
# image (same config, same layer) from an uncompressed docker-archive of ours.
mkdir -p "$work/ctx/data"
prepare=${RB_BENCH_DIR:+$RB_BENCH_DIR/cases/bigfile/prepare.sh}
if [ -n "$prepare" ] && [ -r "$prepare" ]; then
    sh "$prepare" "$work/ctx/data"
else
    # openssl dies of SIGPIPE when head has enough: not a failure.
    { openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass pass:rig-bigfile </dev/zero 2>/dev/null || true; } |
        head -c 524288000 >"$work/ctx/data/big.bin"
fi
cp "$busybox_tar" "$work/rootfs.tar"
chmod u+w "$work/rootfs.tar"
tar --owner=0 --group=0 --numeric-owner --mtime=@0 -rf "$work/rootfs.tar" -C "$work/ctx" data
rm -rf "$work/ctx"
$rb import "$work/rootfs.tar" "$image" >/dev/null
rm -f "$work/rootfs.tar"
$rb save --format docker-archive -o "$work/image-docker.tar" "$image"
"${buildah[@]}" pull -q "docker-archive:$work/image-docker.tar" >/dev/null
rm -f "$work/image-docker.tar"

q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
out=$(q "$work/out.tar")
variants=$(q "$store/cache/variants")
bcmd=$(printf '%q ' "${buildah[@]}")

echo "== save --format oci-archive (gzip) of a 500 MiB layer image ($runs runs each, 1 warm-up)"
hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$work/save.json" \
    --prepare "rm -rf $variants $out" --command-name "rootless-build save (cold)" \
    "$rb save --format oci-archive -o $out $image" \
    --prepare "rm -f $out" --command-name "rootless-build save (warm)" \
    "$rb save --format oci-archive -o $out $image" \
    --prepare "rm -f $out" --command-name "buildah push oci-archive" \
    "$bcmd push -q $image oci-archive:$out"

rss() { # CMD... -> max RSS in MiB of one run
    /usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null 2>&1
    echo $(( $(cat "$work/rss") / 1024 ))
}
rm -rf "$store/cache/variants" "$work/out.tar"
rss_cold=$(rss $rb save --format oci-archive -o "$work/out.tar" "$image")
rm -f "$work/out.tar"
rss_buildah=$(rss "${buildah[@]}" push -q "$image" "oci-archive:$work/out.tar")

python3 - "$work/save.json" "$rss_cold" "$rss_buildah" <<'EOF'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
cold, warm, buildah = (r["mean"] for r in results)
print()
print(f"rootless-build save, cold  {cold:7.3f} s   ratio to buildah {cold / buildah:5.2f}   (target <= 0.50)")
print(f"rootless-build save, warm  {warm:7.3f} s   ratio to buildah {warm / buildah:5.2f}")
print(f"buildah push oci-archive   {buildah:7.3f} s")
print(f"max RSS: rootless-build save (cold) {sys.argv[2]} MiB, buildah push {sys.argv[3]} MiB")
EOF
