#!/bin/bash
# The benchmarks of rootless-build against rootless buildah, side by side (not a test).
# Usage: scripts/bench/run.sh [NAME...]      (as root from the work tree; `make bench`)
#   NAME: a build case (scratch-static bigfile busybox-steps whiteout multistage manyfiles
#   debian-apt) and/or one of the optional suites save, registry, containers, network, supply, platforms (the scripts
#   scripts/bench/NAME.sh, run when present). No NAME: everything.
# Needs `make setup sync testdata` done (make bench does it). Starts the registry on
# localhost:5000 and seeds it when it is not answering, and stops it again at the end.
# Results: /var/tmp/rootless-build-bench/build-*.json (build-latest.json: the last run).
# Environment: RB_BENCH_DRIVERS, RB_BENCH_COLD_RUNS, RB_BENCH_WARM_RUNS, RB_BENCH_TIMEOUT
# (see scripts/bench/README.md), RB_BENCH_CASES (default ../shared/bench-cases).
set -euo pipefail

tree=$(cd "$(dirname "$0")/../.." && pwd)
bench=/var/tmp/rootless-build-bench
user=rbuild
port=5000
export RB_BENCH_DIR=$bench RB_BENCH_REGISTRY=localhost:$port
cases=${RB_BENCH_CASES:-$tree/../shared/bench-cases}
as_user=("$tree/scripts/as-user" -u "$user")

build_cases=()
suites=()
for name in "$@"; do
    case $name in
        save|registry|containers|network|supply|stages|platforms) suites+=("$name") ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) build_cases+=("$name") ;;
    esac
done
if [ $# = 0 ]; then suites=(save registry containers network supply stages platforms); fi

for tool in hyperfine buildah jq zstd pigz /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool missing (make setup)" >&2; exit 1; }
done
[ -d "$cases" ] || { echo "run.sh: no bench cases in $cases (set RB_BENCH_CASES)" >&2; exit 1; }
[ -x /opt/rootless-build/venv/bin/rootless-build ] ||
    { echo "run.sh: rootless-build not installed (make sync)" >&2; exit 1; }

# The user runs copies of the driver and the cases: the work tree may be unreadable to it.
if [ "$(id -u)" = 0 ]; then
    install -d -o "$user" -g "$user" -m 0755 "$bench"
else
    mkdir -p "$bench"
fi
rm -rf "$bench/driver" "$bench/cases"
cp -r "$tree/scripts/bench" "$bench/driver"
cp -r "$cases" "$bench/cases"
chmod -R u+w "$bench/cases"
if [ "$(id -u)" = 0 ]; then chown -R "$user:" "$bench/driver" "$bench/cases"; fi

registry_started=
stop_registry() {
    if [ -n "$registry_started" ]; then
        "${as_user[@]}" "$tree/scripts/test-registry.sh" stop "$port" >/dev/null || true
    fi
}
trap stop_registry EXIT
trap 'exit 130' INT TERM
if ! curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/v2/"; then
    "${as_user[@]}" "$tree/scripts/test-registry.sh" start "$port"
    registry_started=1
fi
for image in busybox debian; do
    if ! curl -sf -o /dev/null --max-time 5 \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        "http://127.0.0.1:$port/v2/$image/manifests/latest"; then
        "${as_user[@]}" "$tree/scripts/seed-registry.sh" "localhost:$port"
        break
    fi
done

rc=0
if [ ${#build_cases[@]} -gt 0 ] || [ $# = 0 ]; then
    "${as_user[@]}" -C "$bench" /opt/rootless-build/venv/bin/python "$bench/driver/bench_build.py" \
        --cases-dir "$bench/cases" --out-dir "$bench" "${build_cases[@]}" || rc=1
fi
for suite in "${suites[@]}"; do
    script=$tree/scripts/bench/$suite.sh
    if [ -f "$script" ]; then
        echo
        echo "== scripts/bench/$suite.sh"
        bash "$script" || { echo "scripts/bench/$suite.sh failed (exit $?)"; rc=1; }
    elif [ $# -gt 0 ]; then
        echo "run.sh: scripts/bench/$suite.sh does not exist (yet)"
    fi
done
exit $rc
