#!/bin/bash
# Registry benchmark, side by side with `skopeo copy` against the same local registry:
#   pull  debian base / 500 MiB single-layer image into an empty store
#         (rootless-build pull  vs  skopeo copy docker://... oci:DIR)
#   push  both, blobs absent (a new repository each run, no mount source known) and blobs
#         present (the same repository again)
#         (rootless-build push  vs  skopeo copy oci:DIR docker://...)
#   push  the 500 MiB image imported locally (layer stored uncompressed): gzip on push,
#         the remembered variant removed before each run, vs skopeo --dest-compress
# Prints the medians and the ratios rootless-build / skopeo (target: <= 1), and the max
# RSS of one pull of each image (target: flat with layer size).
# Runs its own docker-registry on a free loopback port (not the shared localhost:5000 of
# RB_BENCH_REGISTRY, which other suites use), seeded with scripts/seed-registry.sh.
# Run as the unprivileged user; as root it re-runs itself as rbuild (scripts/as-user).
# Environment: RB_BENCH_RUNS (default 5), RB_CLI (the rootless-build command, default
# rootless-build), RB_TEST_CACHE (the rootfs tarballs' directory).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ "$(id -u)" = 0 ]; then  # the synced copy (/opt/rootless-build/src): the user can read it
    exec "$repo/scripts/as-user" bash scripts/bench/registry.sh "$@"
fi

runs=${RB_BENCH_RUNS:-5}
cli=${RB_CLI:-rootless-build}
for tool in hyperfine skopeo umoci docker-registry python3 openssl /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "registry.sh: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/var/tmp}/rb-bench-registry.XXXXXX")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
reg=127.0.0.1:$port
cleanup() {
    "$repo/scripts/test-registry.sh" stop "$port" "$work/registry" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

"$repo/scripts/test-registry.sh" start "$port" "$work/registry" >/dev/null
"$repo/scripts/seed-registry.sh" "$reg" >/dev/null

# The 500 MiB image: one incompressible file (AES-CTR keystream, as the bigfile case).
mkdir -p "$work/big/data"
{ openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass pass:rig-bigfile </dev/zero 2>/dev/null || true; } |
    head -c 524288000 >"$work/big/data/big.bin"
tar --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$work/big.tar" -C "$work/big" data
rm -rf "$work/big"
umoci init --layout "$work/big-layout" >/dev/null
umoci new --image "$work/big-layout:latest" >/dev/null
umoci raw add-layer --image "$work/big-layout:latest" "$work/big.tar" >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$work/big-layout:latest" "docker://$reg/big:latest"
rm -rf "$work/big-layout"

# Paths below come from mktemp (no spaces or quotes): used unquoted in hyperfine's commands.
store=$work/store
sk=$work/skopeo
rb="$cli --root $store"
# skopeo's blob-info cache would let it mount blobs it saw before: give it its own, emptied.
skenv="env XDG_DATA_HOME=$work/skdata"
sko="$skenv skopeo copy -q --src-tls-verify=false --dest-tls-verify=false"
unique='$(date +%s%N)'  # expanded by hyperfine's shell: a new repository each run
results=()

bench() { # NAME OURS_PREPARE OURS_CMD SKOPEO_PREPARE SKOPEO_CMD
    local json="$work/$1.json"
    hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$json" \
        --prepare "$2" --command-name "rootless-build" "$3" \
        --prepare "$4" --command-name "skopeo" "$5" >/dev/null
    results+=("$1|$json")
}

for image in debian big; do
    bench "pull $image" "rm -rf $store" "$rb pull -q $reg/$image:latest" \
        "rm -rf $sk-$image" "$sko docker://$reg/$image:latest oci:$sk-$image:$image"
done

# Pushes of what was pulled (compressed blobs, sent as they are), from the last pull above.
$rb pull -q "$reg/debian:latest" >/dev/null
$rb pull -q "$reg/big:latest" >/dev/null
for image in debian big; do
    $sko "docker://$reg/$image:latest" "oci:$sk-$image:$image"
    bench "push $image, blobs absent" \
        "rm -rf $store/cache/blob-sources" "$rb push -q $reg/$image:latest $reg/absent/$image-$unique:1" \
        "rm -rf $work/skdata" "$sko oci:$sk-$image:$image docker://$reg/absent/sk-$image-$unique:1"
    $rb push -q "$reg/$image:latest" "$reg/present/$image:1"
    $sko "oci:$sk-$image:$image" "docker://$reg/present/sk-$image:1"
    bench "push $image, blobs present" \
        "true" "$rb push -q $reg/$image:latest $reg/present/$image:1" \
        "true" "$sko oci:$sk-$image:$image docker://$reg/present/sk-$image:1"
done

# A locally made image (layer stored uncompressed): gzip happens on push.
$rb import "$work/big.tar" local/big:1 >/dev/null
umoci init --layout "$work/raw-layout" >/dev/null
umoci new --image "$work/raw-layout:latest" >/dev/null
python3 - "$work/raw-layout" "$work/big.tar" <<'PY'
# umoci always gzips; write the uncompressed layer into the layout directly.
import hashlib, json, os, shutil, sys
layout, tar = sys.argv[1:]
h, size = hashlib.sha256(), os.path.getsize(tar)
with open(tar, "rb") as f:
    while chunk := f.read(1 << 20):
        h.update(chunk)
digest = h.hexdigest()
shutil.copyfile(tar, f"{layout}/blobs/sha256/{digest}")
config = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest}"]}}).encode()
cdig = hashlib.sha256(config).hexdigest()
open(f"{layout}/blobs/sha256/{cdig}", "wb").write(config)
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": f"sha256:{cdig}", "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": f"sha256:{digest}", "size": size}]}).encode()
mdig = hashlib.sha256(manifest).hexdigest()
open(f"{layout}/blobs/sha256/{mdig}", "wb").write(manifest)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": f"sha256:{mdig}", "size": len(manifest),
    "annotations": {"org.opencontainers.image.ref.name": "raw"}}]}, open(f"{layout}/index.json", "w"))
PY
bench "push 500 MiB, gzip on push" \
    "rm -rf $store/cache/variants $store/cache/blob-sources" \
    "$rb push -q local/big:1 $reg/gz/big-$unique:1" \
    "rm -rf $work/skdata" \
    "$sko --dest-compress --dest-compress-format gzip oci:$work/raw-layout:raw docker://$reg/gz/sk-big-$unique:1"

rss() { # CMD... -> max RSS in MiB of one run
    /usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null 2>&1
    echo $(( $(cat "$work/rss") / 1024 ))
}
memory=()
for image in debian big; do
    rm -rf "$store" "$sk-$image"
    ours=$(rss $cli --root "$store" pull -q "$reg/$image:latest")
    theirs=$(rss env XDG_DATA_HOME="$work/skdata" skopeo copy -q --src-tls-verify=false \
        "docker://$reg/$image:latest" "oci:$sk-$image:$image")
    memory+=("$image|$ours|$theirs")
done

echo "== registry: rootless-build vs skopeo copy, $reg (medians of $runs runs, 1 warm-up)"
python3 - "${results[@]}" <<'PY'
import json, sys
print(f"{'case':<32} {'rootless-build':>15} {'skopeo':>10} {'ratio':>7}")
for arg in sys.argv[1:]:
    name, path = arg.split("|", 1)
    ours, theirs = (r["median"] for r in json.load(open(path))["results"])
    verdict = "ok" if ours <= theirs else "MISS"
    print(f"{name:<32} {ours:>13.3f} s {theirs:>8.3f} s {ours / theirs:>7.2f}  {verdict}")
PY
echo "== max RSS of one pull (MiB)"
for row in "${memory[@]}"; do
    IFS='|' read -r image ours theirs <<<"$row"
    printf '%-32s rootless-build %5s MiB   skopeo %5s MiB\n' "pull $image" "$ours" "$theirs"
done
