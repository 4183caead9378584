#!/bin/sh
# Build the CI image of rootless-build with rootless-build itself.
#   scripts/image/build.sh [TAG] [-- EXTRA BUILD FLAGS]
# Env: RB (the command to run, default `rootless-build`), RB_IMAGE_REGISTRY (the registry
# holding debian:latest, default localhost:5000), PIP (default: the pip next to python3).
# Wheels come from the local index pip is configured with; the container's pip never
# reaches the network.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tag=${1:-rootless-build:latest}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
pip=${PIP:-python3 -m pip}
ctx=$(mktemp -d "${TMPDIR:-/tmp}/rb-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
mkdir "$ctx/deps" "$ctx/app"
cp "$here/Dockerfile" "$ctx/Dockerfile"
# Our wheel is built from a copy: setuptools writes build/ and *.egg-info next to its source.
mkdir "$ctx/src"
cp -R "$repo/pyproject.toml" "$repo/README.md" "$repo/rootless_build" "$ctx/src/"
find "$ctx/src" -name __pycache__ -prune -exec rm -rf {} +
SOURCE_DATE_EPOCH=315532800 $pip wheel -q --no-deps --no-build-isolation -w "$ctx/app" "$ctx/src" >/dev/null 2>&1 \
  || SOURCE_DATE_EPOCH=315532800 $pip wheel --no-deps --no-build-isolation -w "$ctx/app" "$ctx/src"
rm -rf "$ctx/src"
# Only the dependencies' wheels (pinned by what the venv resolves), binary only.
reqs=$(python3 - "$repo/pyproject.toml" <<'PY'
import sys, tomllib
print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))
PY
)
echo "$reqs" > "$ctx/requirements.txt"
$pip download -q --only-binary=:all: -d "$ctx/deps" -r "$ctx/requirements.txt" >/dev/null 2>&1 \
  || $pip download --only-binary=:all: -d "$ctx/deps" -r "$ctx/requirements.txt"
rm "$ctx/requirements.txt"
chmod -R a+rX "$ctx"
# Fixed file times: the same wheels give the same cache keys from one checkout to the next.
find "$ctx" -exec touch -h -d @0 {} +
${RB:-rootless-build} build -t "$tag" --build-arg "REGISTRY=${RB_IMAGE_REGISTRY:-localhost:5000}" "$@" "$ctx"
