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
