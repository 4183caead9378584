#!/bin/bash
# The tool's CI image against buildah in a container, both in rootless podman with its
# default options (plus --network host: the registry is on loopback), on the bench cases
# busybox-steps and manyfiles, cold (a fresh container and store each run) and warm (the
# same build again on a store kept in a volume). Prints the means and the ratio ours /
# buildah (target <= 0.5); for warm also podman's start of each container alone (`true` as
# the entrypoint), the floor of both, and each tool's time above it. buildah runs as
# documented for containers: Debian's buildah in a Debian image,
# `bud --isolation chroot --storage-driver vfs --layers`.
#   scripts/bench/ci_image.sh [CASE...]      (as root it re-runs itself as rbuild)
# Environment: RB_BENCH_COLD_RUNS (3), RB_BENCH_WARM_RUNS (5), RB_BENCH_REGISTRY
# (localhost:5000, holding debian and busybox), RB_BENCH_CASES (../shared/bench-cases).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ "$(id -u)" = 0 ]; then
    exec "$repo/scripts/as-user" -C "$repo" bash scripts/bench/ci_image.sh "$@"
fi
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(busybox-steps manyfiles)
cold_runs=${RB_BENCH_COLD_RUNS:-3}
warm_runs=${RB_BENCH_WARM_RUNS:-5}
registry=${RB_BENCH_REGISTRY:-localhost:5000}
case_dir=${RB_BENCH_CASES:-$repo/../shared/bench-cases}
[ -d "$case_dir" ] || case_dir=/opt/rootless-build/shared/bench-cases
for tool in hyperfine podman rootless-build; do
    command -v "$tool" >/dev/null || { echo "ci_image.sh: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/rb-bench-ci.XXXXXX")
tag=rb-bench-ci-$$
ours=localhost/$tag-tool:latest
theirs=localhost/$tag-buildah:latest
cleanup() {
    podman volume rm -f "$tag-ours" "$tag-buildah" >/dev/null 2>&1 || true
    podman rmi -f "$ours" "$theirs" >/dev/null 2>&1 || true
    rootless-build --root "$work/store" unshare rm -rf "$work" 2>/dev/null || rm -rf "$work"
}
trap cleanup EXIT

echo "== building both images with rootless-build (not timed)"
RB="rootless-build --root $work/store" RB_IMAGE_REGISTRY=$registry \
    PIP="${PIP:-python3 -m pip}" "$repo/scripts/image/build.sh" tool:bench -- -q >/dev/null
mkdir "$work/buildah-ctx"
cp "$here/ci-buildah.Dockerfile" "$work/buildah-ctx/Dockerfile"
rootless-build --root "$work/store" build -q --build-arg "REGISTRY=$registry" -t buildah:bench "$work/buildah-ctx" >/dev/null
for pair in "tool:bench $ours" "buildah:bench $theirs"; do
    set -- $pair
    rootless-build --root "$work/store" save --format docker-archive -o "$work/image.tar" "$1"
    podman load -q -i "$work/image.tar" >/dev/null
    podman tag "localhost/$1" "$2"
    podman untag "localhost/$1" "localhost/$1" >/dev/null 2>&1 || true
    rm -f "$work/image.tar"
done

run="podman run --rm --network host"
args="--build-arg REGISTRY=$registry"
results=()
for case in "${cases[@]}"; do
    cp -r "$case_dir/$case" "$work/$case"
    chmod -R a+rX "$work/$case"
    ctx="-v $work/$case:/ctx:ro"
    our_cmd="$run $ctx $ours build -q --tls-verify=false $args -t bench:$case /ctx"
    their_cmd="$run $ctx --entrypoint buildah $theirs bud --isolation chroot --storage-driver vfs --layers --tls-verify=false -q $args -t bench:$case /ctx"
    echo "== $case cold ($cold_runs runs each)"
    hyperfine -N --runs "$cold_runs" --export-json "$work/$case-cold.json" "$our_cmd" "$their_cmd" >/dev/null
    podman volume rm -f "$tag-ours" "$tag-buildah" >/dev/null 2>&1 || true
    our_warm="$run $ctx -v $tag-ours:/root/.local/share/rootless-build $ours build -q --tls-verify=false $args -t bench:$case /ctx"
    their_warm="$run $ctx -v $tag-buildah:/var/lib/containers --entrypoint buildah $theirs bud --isolation chroot --storage-driver vfs --layers --tls-verify=false -q $args -t bench:$case /ctx"
    # The floor of both: podman starting each image's container (same flags and volumes) and
    # running `true` instead of the build.
    our_start="$run $ctx -v $tag-ours:/root/.local/share/rootless-build --entrypoint true $ours"
    their_start="$run $ctx -v $tag-buildah:/var/lib/containers --entrypoint true $theirs"
    echo "== $case warm (1 warm-up, $warm_runs runs each; and the container start alone)"
    hyperfine -N --warmup 1 --runs "$warm_runs" --export-json "$work/$case-warm.json" "$our_warm" "$their_warm" \
        "$our_start" "$their_start" >/dev/null
    results+=("$work/$case-cold.json" "$work/$case-warm.json")
done

python3 - "${results[@]}" <<'PY'
import json, os, sys
print(f"{'case':<28}{'ours (s)':>10}{'buildah (s)':>13}{'ratio':>8}  target <= 0.5")
for path in sys.argv[1:]:
    data = json.load(open(path))["results"]
    ours, theirs = data[0]["mean"], data[1]["mean"]
    name = os.path.basename(path)[:-5]
    mark = "ok" if ours / theirs <= 0.5 else "MISSED"
    print(f"{name:<28}{ours:>10.2f}{theirs:>13.2f}{ours / theirs:>8.2f}  {mark}")
    if len(data) == 4:      # warm: less the container start, what each tool itself takes
        our_start, their_start = data[2]["mean"], data[3]["mean"]
        print(f"{'  container start alone':<28}{our_start:>10.2f}{their_start:>13.2f}")
        own, their_own = ours - our_start, theirs - their_start
        ratio = f"{own / their_own:>8.2f}" if their_own > 0 else f"{'n/a':>8}"
        print(f"{'  the tool itself':<28}{own:>10.2f}{their_own:>13.2f}{ratio}")
PY
