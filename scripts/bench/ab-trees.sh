#!/bin/bash
# Two (or more) source trees of rootless-build timed in alternation on one build case:
# tree A, tree B, tree A, ... so a loaded machine's slow phases hit every tree alike (two
# back-to-back series do not). Reports wall and CPU (user+sys, children included) per run,
# with medians and minimums. Run as the unprivileged user (scripts/as-user), e.g.
#   scripts/as-user scripts/bench/ab-trees.sh ../shared/bench-cases/whiteout 7 cold \
#       /opt/rootless-build/wt/before /opt/rootless-build/src
# MODE: cold (a fresh store each run, the base pulled from $RB_BENCH_REGISTRY, default
# localhost:5000) or warm (one store per tree, built once first, then every step cached).
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,9p' "$0"; exit 2; }
context=$(realpath "$1"); runs=$2; mode=$3; shift 3
registry=${RB_BENCH_REGISTRY:-localhost:5000}
py=${RB_BENCH_PYTHON:-/opt/rootless-build/venv/bin/python}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/ab-trees.XXXXXX")
cd "$work"      # python -m puts the cwd first on sys.path: never a tree's parent
declare -A wall cpu
build() { # TREE STORE -> "wall cpu" in ms
    env PYTHONPATH="$1" /usr/bin/time -o "$work/t" -f "%e %U %S" "$py" -m rootless_build --root "$2" \
        build -q -t ab --build-arg "REGISTRY=$registry" "$context" >"$work/out" 2>&1 \
        || { echo "build failed with $1:" >&2; tail -5 "$work/out" >&2; exit 1; }
    awk '{printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000}' "$work/t"
}
remove() { env PYTHONPATH="$1" "$py" -m rootless_build unshare rm -rf "$2"; }
stats() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR] = $1} END {printf "median %d min %d", a[int((NR + 1) / 2)], a[1]}'; }
n=0
for tree in "$@"; do n=$((n + 1)); [ "$mode" = warm ] && build "$tree" "$work/store-$n" >/dev/null; done
for _ in $(seq "$runs"); do
    n=0
    for tree in "$@"; do
        n=$((n + 1)); store=$work/store-$n
        read -r w c < <(build "$tree" "$store")
        wall[$tree]+=" $w"; cpu[$tree]+=" $c"
        [ "$mode" = cold ] && remove "$tree" "$store"
    done
done
for tree in "$@"; do
    echo "$(basename "$context") $mode $tree"
    echo "  wall ms:${wall[$tree]}  ($(stats "${wall[$tree]}"))"
    echo "  cpu ms: ${cpu[$tree]}  ($(stats "${cpu[$tree]}"))"
done
n=0; for tree in "$@"; do n=$((n + 1)); [ -d "$work/store-$n" ] && remove "$tree" "$work/store-$n"; done
rm -rf "$work"
