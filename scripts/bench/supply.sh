#!/bin/bash
# Supply-chain benchmark (issue 18):
#   sbom  the debian-apt case built once, then timed: the cached build alone, vs the same
#         build with --sbom with the attached SBOM removed before each run (so every run
#         writes the SPDX document; the layers' scan results are cached per layer digest,
#         as after the first SBOM of any image on them), vs --sbom with it kept (a rebuild
#         finds it). The first scan of the layers is timed once apart. Target: <= 0.3 s.
#   push  busybox pushed to the same repository (blobs present) unsigned, vs signed with a
#         sigstore key (--sign-by-sigstore-private-key) and with GPG (--sign-by).
#         Target: signing costs <= 50 ms.
# Runs its own docker-registry on a free loopback port, seeded with scripts/seed-registry.sh.
# Run as the unprivileged user; as root it re-runs itself as rbuild (scripts/as-user).
# Environment: RB_BENCH_RUNS (default 10), RB_CLI (default rootless-build),
# RB_BENCH_CASES (default ../shared/bench-cases beside the repository, or /work/shared/...).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ "$(id -u)" = 0 ]; then
    exec "$repo/scripts/as-user" -C "$repo" bash scripts/bench/supply.sh "$@"
fi

runs=${RB_BENCH_RUNS:-10}
cli=${RB_CLI:-rootless-build}
cases=${RB_BENCH_CASES:-}
for c in "${RB_BENCH_DIR:-/var/tmp/rootless-build-bench}/cases" "$repo/../shared/bench-cases" /work/shared/bench-cases; do
    [ -n "$cases" ] || { [ -r "$c/debian-apt/Dockerfile" ] && cases=$c; } || true
done
[ -n "$cases" ] || { echo "supply.sh: bench cases not found (set RB_BENCH_CASES)" >&2; exit 1; }
for tool in hyperfine gpg docker-registry python3 jq; do
    command -v "$tool" >/dev/null || { echo "supply.sh: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/var/tmp}/rb-bench-supply.XXXXXX")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
reg=127.0.0.1:$port
cleanup() {
    gpgconf --homedir "$work/gnupg" --kill all >/dev/null 2>&1 || true
    "$repo/scripts/test-registry.sh" stop "$port" "$work/registry" >/dev/null 2>&1 || true
    $cli unshare rm -rf "$work/store" >/dev/null 2>&1 || true
    chmod -R u+w "$work" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
"$repo/scripts/test-registry.sh" start "$port" "$work/registry" >/dev/null
"$repo/scripts/seed-registry.sh" "$reg" >/dev/null

store=$work/store
rb="$cli --root $store"
median() { jq -r '.results[] | "\(.command)\t\(.median)"' "$1"; }

# --- SBOM on build ---------------------------------------------------------------------------
cp -r --no-preserve=mode "$cases/debian-apt" "$work/ctx"
build="$rb build -q --build-arg REGISTRY=$reg -t bench:debian-apt $work/ctx"
$build >/dev/null                       # the cold build (apt-get from the mirror): not timed
start=$(date +%s.%N)
$build --sbom >/dev/null
echo "first build --sbom (every layer scanned, incl. the gzip base): $(python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 2))" "$start" "$(date +%s.%N)") s (one run)"
# One --prepare per command (hyperfine applies a single one to every command).
hyperfine -N -w 1 -r "$runs" --export-json "$work/sbom.json" \
    --prepare true --prepare "rm -rf $store/cache/referrers" --prepare true \
    -n "build (cached)" "$build" \
    -n "build --sbom (made each run)" "$build --sbom" \
    -n "build --sbom (already attached)" "$build --sbom" >/dev/null
echo "== build --sbom of debian-apt (medians, s) =="
median "$work/sbom.json"
jq -r '.results as $r | "added by --sbom: \(($r[1].median - $r[0].median) * 1000 | floor) ms (target <= 300 ms); '\
'rebuild with it attached: \(($r[2].median - $r[0].median) * 1000 | floor) ms"' "$work/sbom.json"
$rb sbom bench:debian-apt | jq -r '"packages in the SBOM: \(.packages | length - 1)"'

# --- signed push -------------------------------------------------------------------------------
export GNUPGHOME=$work/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --passphrase '' --quick-gen-key 'Bench <bench@bench.invalid>' ed25519 sign never 2>/dev/null
fpr=$(gpg --with-colons --list-keys | awk -F: '/^fpr/ {print $10; exit}')
printf 'bench passphrase\n' >"$work/pass"
$rb generate-key --output-prefix "$work/cosign" --passphrase-file "$work/pass" >/dev/null
mkdir "$work/registries.d"
printf 'docker:\n  %s:\n    use-sigstore-attachments: true\n    lookaside: file://%s/lookaside\n' \
    "$reg" "$work" >"$work/registries.d/bench.yaml"
$rb pull -q "$reg/busybox:latest" >/dev/null
$rb tag "$reg/busybox:latest" "$reg/bench/busybox:1"
push="$rb push -q --registries.d $work/registries.d $reg/bench/busybox:1"
$push                                    # blobs present from here on
hyperfine -N -w 1 -r "$runs" --export-json "$work/push.json" \
    -n "push (unsigned)" "$push" \
    -n "push --sign-by-sigstore-private-key" \
    "$push --sign-by-sigstore-private-key $work/cosign.private --sign-passphrase-file $work/pass" \
    -n "push --sign-by (GPG)" "$push --sign-by $fpr" >/dev/null
echo "== signed push of busybox, blobs present (medians, s) =="
median "$work/push.json"
jq -r '.results as $r | "added by sigstore signing: \(($r[1].median - $r[0].median) * 1000 | floor) ms, '\
'by GPG signing: \(($r[2].median - $r[0].median) * 1000 | floor) ms (target <= 50 ms)"' "$work/push.json"
jq -r '"CPU time (user+sys, means; what a loaded machine serialises): " + ([.results[] | '\
'"\(.command) \((.user + .system) * 1000 | floor) ms"] | join(", "))' "$work/push.json"
# Apart: unlocking the cosign key, whose scrypt (N=32768 r=8) the key format fixes. Push runs
# it on a thread started before its imports, so it costs wall time only without a free core.
PYTHONPATH=$repo python3 - "$work/cosign.private" "$work/pass" <<'EOF'
import sys, time
from rootless_build.sign import sigstore_keys as keys
pem, passphrase = open(sys.argv[1], "rb").read(), keys.read_passphrase(sys.argv[2])
keys.load_private(pem, passphrase, "key")  # the imports, once
runs = []
for _ in range(5):
    start = time.process_time()
    keys.load_private(pem, passphrase, "key")
    runs.append(time.process_time() - start)
print(f"unlocking the sigstore key alone (scrypt + secretbox + DER): {min(runs) * 1000:.0f} ms CPU (best of 5)")
EOF
