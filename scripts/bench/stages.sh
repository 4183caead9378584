#!/bin/bash
# Parallel stages benchmark (issue 15): a Dockerfile of four independent stages, each two
# seconds of RUN work, then COPY --from each. Cold builds (store wiped before each run) of
#   ours with the default --jobs, ours with --jobs 1, and `buildah bud --jobs 4`.
# Targets: ours <= 1.2 x (the longest stage + the sequential rest) and <= 0.6 x buildah's.
# The sequential rest is ours --jobs 1 minus the four stages' 8 s of RUN work.
# Runs its own docker-registry on a free loopback port, seeded with scripts/seed-registry.sh.
# Run as the unprivileged user; as root it re-runs itself as rbuild (scripts/as-user).
# Environment: RB_BENCH_RUNS (default 3), RB_CLI (default rootless-build).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ "$(id -u)" = 0 ]; then
    exec "$repo/scripts/as-user" -C "$repo" bash scripts/bench/stages.sh "$@"
fi
runs=${RB_BENCH_RUNS:-3}
cli=${RB_CLI:-rootless-build}
for tool in hyperfine buildah docker-registry python3 jq; do
    command -v "$tool" >/dev/null || { echo "stages.sh: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/var/tmp}/rb-bench-stages.XXXXXX")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
reg=127.0.0.1:$port
cleanup() {
    "$repo/scripts/test-registry.sh" stop "$port" "$work/registry" >/dev/null 2>&1 || true
    $cli unshare rm -rf "$work/ours" >/dev/null 2>&1 || true
    buildah unshare rm -rf "$work/buildah" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
"$repo/scripts/test-registry.sh" start "$port" "$work/registry" >/dev/null
"$repo/scripts/seed-registry.sh" "$reg" >/dev/null

mkdir "$work/ctx"
{
    for n in 1 2 3 4; do
        printf 'FROM %s/busybox:latest AS s%s\nRUN sleep 2 && echo %s > /out\n\n' "$reg" "$n" "$n"
    done
    printf 'FROM %s/busybox:latest\n' "$reg"
    for n in 1 2 3 4; do printf 'COPY --from=s%s /out /out%s\n' "$n" "$n"; done
} >"$work/ctx/Dockerfile"

ours="$cli --root $work/ours build -q -t bench:stages $work/ctx"
buildah_cmd="buildah --root $work/buildah/root --runroot $work/buildah/run --storage-driver vfs bud --layers --jobs 4 --tls-verify=false -q -t bench:stages $work/ctx"
wipe_ours="$cli unshare rm -rf $work/ours"
wipe_buildah="buildah unshare rm -rf $work/buildah"
hyperfine -N -r "$runs" --export-json "$work/stages.json" \
    --prepare "$wipe_ours" --prepare "$wipe_ours" --prepare "$wipe_buildah" \
    -n "ours (default --jobs)" "$ours" \
    -n "ours --jobs 1" "$ours --jobs 1" \
    -n "buildah bud --jobs 4" "$buildah_cmd" >/dev/null
echo "== four independent stages of 2 s RUN work, cold (medians, s) =="
jq -r '.results[] | "\(.command)\t\(.median)"' "$work/stages.json"
jq -r '.results as $r | ($r[1].median - 8) as $rest |
  "sequential rest: \($rest * 100 | round / 100) s; ours / (2 s + rest): \(($r[0].median / (2 + $rest)) * 100 | round / 100) (target <= 1.2); " +
  "ours / buildah --jobs 4: \(($r[0].median / $r[2].median) * 100 | round / 100) (target <= 0.6)"' "$work/stages.json"
