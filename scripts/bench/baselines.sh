#!/bin/bash
# Physical baselines for the build benchmarks: what the hardware does with the same data
# and no image builder. Each baseline is one hyperfine call writing OUTDIR/baseline-NAME.json
# and printing "baseline NAME JSONFILE" (bench_build.py reads those lines).
# Usage: baselines.sh bigfile FILE OUTDIR       FILE: the 500 MiB big.bin (page-cached by
#                                               the first warm-up run: builds read it cached too)
#        baselines.sh manyfiles WORKDIR OUTDIR  WORKDIR: emptied before each run
# Environment: RB_BENCH_COLD_RUNS (runs per baseline, default 3).
set -euo pipefail

kind=${1:-}
path=${2:-}
out=${3:-}
runs=${RB_BENCH_COLD_RUNS:-3}
[ -n "$kind" ] && [ -n "$path" ] && [ -n "$out" ] ||
    { echo "usage: baselines.sh bigfile FILE OUTDIR | manyfiles WORKDIR OUTDIR" >&2; exit 2; }
mkdir -p "$out"

# measure NAME [hyperfine options...] COMMAND
measure() {
    local name=$1 json="$out/baseline-$1.json"
    shift
    hyperfine --style basic --runs "$runs" --export-json "$json" --command-name "$name" "$@" >/dev/null
    echo "baseline $name $json"
}

# POSIX single quoting (hyperfine runs commands with sh, which has no $'...').
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

case $kind in
bigfile)
    [ -r "$path" ] || { echo "baselines.sh: $path not readable" >&2; exit 1; }
    f=$(q "$path")
    dir=$(q "$(dirname "$path")")
    base=$(q "$(basename "$path")")
    # Pipes into sha256sum / cat: GNU tar skips reading files when it writes to /dev/null.
    measure tar-sha256 --warmup 1 "tar -cf - -C $dir $base | sha256sum"
    measure sha256sum "sha256sum $f"
    measure zstd-T0-3 "zstd -q -T0 -3 -c $f | cat >/dev/null"
    measure pigz-1 "pigz -1 -c $f | cat >/dev/null"
    ;;
manyfiles)
    # The RUN of bench-cases/manyfiles run directly in a fresh directory, by the same shell
    # (busybox sh, as in the image), then tar -c of the result to a file, as a layer is.
    w=$(q "$path")
    sh=sh
    if command -v busybox >/dev/null; then sh="busybox sh"; fi
    loop='mkdir -p "$W/data" && cd "$W/data" && for d in $(seq 0 99); do mkdir d$d && for f in $(seq 0 199); do echo "file $d/$f" > d$d/f$f; done; done && test "$(find "$W/data" -type f | wc -l)" = 20000'
    measure manyfiles-native --prepare "rm -rf $w && mkdir -p $w" \
        "W=$w $sh -c $(q "$loop") && tar -cf $w/layer.tar -C $w data"
    rm -rf "$path"
    ;;
*)
    echo "baselines.sh: unknown baseline set $kind (bigfile or manyfiles)" >&2
    exit 2
    ;;
esac
