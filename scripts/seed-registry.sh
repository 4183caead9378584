#!/bin/bash
# Push the test base images into a registry WITHOUT rootless-build, so benchmarks of
# buildah/podman and of rootless-build start from the same registry content.
# Usage: seed-registry.sh [REGISTRY]   (default localhost:5000; plain HTTP)
# Pushes REGISTRY/busybox:latest and REGISTRY/debian:latest, made from the rootfs tarballs
# in $RB_TEST_CACHE (default /var/cache/rootless-build-test: `make testdata` makes them)
# with umoci (layer added verbatim, owners kept) and copied with skopeo. Runs unprivileged.
set -euo pipefail

registry=${1:-localhost:5000}
cache=${RB_TEST_CACHE:-/var/cache/rootless-build-test}
work=${XDG_CACHE_HOME:-$HOME/.cache}/rootless-build-test/seed
mkdir -p "$work"

# name  cmd  (the default command the images on Docker Hub have)
images=("busybox sh" "debian bash")
env_path=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

for spec in "${images[@]}"; do
    read -r name cmd <<<"$spec"
    tar=$cache/$name.tar
    [ -r "$tar" ] || { echo "seed-registry.sh: $tar missing (run make testdata as root)" >&2; exit 1; }
    layout=$work/$name
    # The OCI layout is rebuilt only when the tarball changes (gzip of the debian layer
    # takes seconds); the key is cheap to read.
    key=$(stat -c '%s %Y %i' "$tar")
    if [ ! -f "$layout.key" ] || [ "$(cat "$layout.key")" != "$key" ]; then
        rm -rf "$layout" "$layout.key"
        # A fixed date (the tarball's) keeps the digests stable between runs.
        created=$(date -u -d "@$(stat -c %Y "$tar")" +%Y-%m-%dT%H:%M:%SZ)
        umoci init --layout "$layout"
        umoci new --image "$layout:latest"
        umoci raw add-layer --image "$layout:latest" --history.created "$created" \
            --history.created_by "seed-registry.sh: $name rootfs" "$tar"
        umoci config --image "$layout:latest" --no-history --created "$created" \
            --config.cmd "$cmd" --config.env "$env_path"
        umoci gc --layout "$layout"
        echo "$key" >"$layout.key"
    fi
    skopeo copy --quiet --dest-tls-verify=false \
        "oci:$layout:latest" "docker://$registry/$name:latest"
    echo "seeded $registry/$name:latest"
done

# busybox-multi:latest, an image index of linux/amd64 and linux/arm64 busybox (from
# busybox.tar and busybox-arm64.tar), for multi-platform builds. umoci makes the two
# images in one layout; the index over them is written here and copied with skopeo --all.
arm_tar=$cache/busybox-arm64.tar
if [ -r "$arm_tar" ]; then
    layout=$work/busybox-multi
    key="$(stat -c '%s %Y %i' "$cache/busybox.tar") $(stat -c '%s %Y %i' "$arm_tar")"
    if [ ! -f "$layout.key" ] || [ "$(cat "$layout.key")" != "$key" ]; then
        rm -rf "$layout" "$layout.key"
        umoci init --layout "$layout"
        for arch in amd64 arm64; do
            tar=$cache/busybox.tar
            [ "$arch" = amd64 ] || tar=$arm_tar
            created=$(date -u -d "@$(stat -c %Y "$tar")" +%Y-%m-%dT%H:%M:%SZ)
            umoci new --image "$layout:$arch"
            umoci raw add-layer --image "$layout:$arch" --history.created "$created" \
                --history.created_by "seed-registry.sh: busybox $arch rootfs" "$tar"
            umoci config --image "$layout:$arch" --no-history --created "$created" \
                --architecture "$arch" --os linux --config.cmd sh --config.env "$env_path"
        done
        umoci gc --layout "$layout"
        python3 - "$layout" <<'PY'
import hashlib, json, sys
layout = sys.argv[1]
index_path = f"{layout}/index.json"
index = json.load(open(index_path))
entries = []
for arch in ("amd64", "arm64"):
    desc = next(m for m in index["manifests"]
                if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == arch)
    entries.append({"mediaType": desc["mediaType"], "digest": desc["digest"], "size": desc["size"],
                    "platform": {"architecture": arch, "os": "linux"}})
raw = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                  "manifests": entries}, sort_keys=True, separators=(",", ":")).encode()
digest = hashlib.sha256(raw).hexdigest()
open(f"{layout}/blobs/sha256/{digest}", "wb").write(raw)
index["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json",
                           "digest": f"sha256:{digest}", "size": len(raw),
                           "annotations": {"org.opencontainers.image.ref.name": "latest"}})
json.dump(index, open(index_path, "w"))
PY
        echo "$key" >"$layout.key"
    fi
    skopeo copy --all --quiet --dest-tls-verify=false \
        "oci:$layout:latest" "docker://$registry/busybox-multi:latest"
    echo "seeded $registry/busybox-multi:latest"
else
    echo "seed-registry.sh: $arm_tar missing: busybox-multi not seeded (make testdata as root)" >&2
fi
