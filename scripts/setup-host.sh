#!/bin/bash
# Prepare this machine for building, testing and benchmarking rootless-build (run as root).
# Idempotent and fast when everything is already in place (`make setup` runs it each time).
#
#   - Debian packages: the rootless helpers, the reference tools (podman, buildah, skopeo,
#     umoci, runc), docker-registry, and what the test images and benchmarks are made with
#   - users rbuild (subordinate ids 200000:65536) and rbnosub (none), with podman configs
#   - /dev/fuse and /dev/net/tun usable by everyone (fuse-overlayfs, slirp4netns)
#   - /opt/rootless-build/venv from /usr/bin/python3 with the project's dependencies
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
opt=/opt/rootless-build
venv=$opt/venv
say() { echo "setup-host: $*" >&2; }

[ "$(id -u)" = 0 ] || { say "must run as root"; exit 1; }

# --- Debian packages: one `apt-get update`, and only when something is missing -------------
packages=(
    uidmap fuse-overlayfs slirp4netns runc podman buildah skopeo umoci docker-registry
    busybox-static debootstrap hyperfine python3-venv pigz zstd tmux apache2-utils
    openssl jq rsync curl docker.io sudo openssh-client git gnupg db5.3-util catatonit
    qemu-user-static binfmt-support file
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # With recommends (catatonit, containernetworking-plugins...), as podman expects.
    apt-get install -y -q "${missing[@]}" </dev/null
fi
# docker-registry's package starts a system-wide registry on :5000; the tests run their
# own instances, so keep the packaged one out of the way.
if [ -d /run/systemd/system ]; then
    if systemctl is-enabled docker-registry >/dev/null 2>&1; then
        systemctl disable --now docker-registry >/dev/null 2>&1 || true
    fi
elif [ -x /etc/init.d/docker-registry ] && /etc/init.d/docker-registry status >/dev/null 2>&1; then
    /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
fi

# --- Foreign architectures: RUN for linux/arm64 & co. goes through qemu-user ----------------
# binfmt_misc mounted (a container may lack it) and qemu's interpreters registered with the
# F flag (opened now, so they work inside user namespaces and chroots).
if ! mountpoint -q /proc/sys/fs/binfmt_misc; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null ||
        say "cannot mount binfmt_misc: foreign-platform RUN steps will not work"
fi
if [ -w /proc/sys/fs/binfmt_misc/register ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    update-binfmts --enable >/dev/null 2>&1 || say "update-binfmts --enable failed"
fi
# The arm64 busybox-static package (test data for multi-platform builds) comes from apt.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
    apt-get update -q || true
fi

# --- Kernel knobs that unprivileged user namespaces need ------------------------------------
if [ -e /proc/sys/kernel/unprivileged_userns_clone ] &&
    [ "$(cat /proc/sys/kernel/unprivileged_userns_clone)" = 0 ]; then
    sysctl -qw kernel.unprivileged_userns_clone=1
fi
if [ "$(cat /proc/sys/user/max_user_namespaces)" = 0 ]; then
    sysctl -qw user.max_user_namespaces=15000
fi
# systemd makes / a shared mount on a normal host; without it (this VM), podman warns and
# rootless mounts do not propagate as they would elsewhere.
if [ "$(findmnt -no PROPAGATION /)" = private ]; then
    mount --make-rshared /
fi
# fuse-overlayfs opens /dev/fuse, slirp4netns (podman's rootless network) /dev/net/tun, as
# the unprivileged user; a normal host has both 0666, this VM may not.
for dev in /dev/fuse /dev/net/tun; do
    if [ -c "$dev" ] && [ "$(stat -c %a "$dev")" != 666 ]; then
        chmod 0666 "$dev"
    fi
done

# --- Users ---------------------------------------------------------------------------------
# useradd would hand out a subordinate range itself (SUB_UID_COUNT in login.defs): ask for
# none, and write exactly the ranges the tests expect.
ensure_user() {
    id -u "$1" >/dev/null 2>&1 && return
    say "creating user $1"
    useradd -m -s /bin/bash -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$1"
}
ensure_user rbuild
ensure_user rbnosub
for f in /etc/subuid /etc/subgid; do
    [ -e "$f" ] || install -m 0644 /dev/null "$f"
    if ! grep -qx 'rbuild:200000:65536' "$f"; then
        sed -i '/^rbuild:/d' "$f"
        echo 'rbuild:200000:65536' >>"$f"
    fi
    if grep -q '^rbnosub:' "$f"; then sed -i '/^rbnosub:/d' "$f"; fi
done

# --- The reference dockerd for tests (never used by the product) -------------------------------
# The test user starts a private dockerd through sudo, on a root-owned copy of the script
# (the synced tree is rbuild's and must not be what root executes).
libexec=/usr/local/libexec/rootless-build
install -d -m 0755 "$libexec"
if ! cmp -s "$repo/scripts/test-dockerd.sh" "$libexec/test-dockerd"; then
    install -o root -g root -m 0755 "$repo/scripts/test-dockerd.sh" "$libexec/test-dockerd"
fi
sudoers_rule="rbuild ALL=(root) NOPASSWD: $libexec/test-dockerd"
if [ ! -f /etc/sudoers.d/rootless-build-test ] ||
    [ "$(cat /etc/sudoers.d/rootless-build-test)" != "$sudoers_rule" ]; then
    printf '%s\n' "$sudoers_rule" >/etc/sudoers.d/rootless-build-test.tmp
    chmod 0440 /etc/sudoers.d/rootless-build-test.tmp
    visudo -cqf /etc/sudoers.d/rootless-build-test.tmp
    mv -f /etc/sudoers.d/rootless-build-test.tmp /etc/sudoers.d/rootless-build-test
fi
# docker.io's package enables a system dockerd; tests run private ones only.
if [ -d /run/systemd/system ] && systemctl is-enabled docker >/dev/null 2>&1; then
    systemctl disable --now docker docker.socket >/dev/null 2>&1 || true
fi

# --- Per-user configuration of podman/buildah (the reference tools in tests and benchmarks) -
# Written only when the content differs, so an unchanged config keeps its mtime.
write_file() { # owner path content
    local owner=$1 path=$2 content=$3
    if [ ! -f "$path" ] || [ "$(cat "$path")" != "$content" ]; then
        install -d -o "$owner" -g "$owner" -m 0755 "$(dirname "$path")"
        printf '%s\n' "$content" >"$path.tmp"
        chown "$owner:$owner" "$path.tmp"
        chmod 0644 "$path.tmp"
        mv -f "$path.tmp" "$path"
    fi
}
containers_conf='# Written by scripts/setup-host.sh.
# runc: crun 1.8 refuses the hybrid cgroup layout; there is no systemd user session.
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"'
registries_conf='# Written by scripts/setup-host.sh: the test registry speaks plain HTTP.
# Short names (FROM busybox) resolve to it, so benchmarks never reach out.
unqualified-search-registries = ["localhost:5000"]

[[registry]]
location = "localhost:5000"
insecure = true

[[registry]]
location = "127.0.0.1:5000"
insecure = true'
for user in rbuild rbnosub; do
    home=$(getent passwd "$user" | cut -d: -f6)
    install -d -o "$user" -g "$user" -m 0755 "$home/.config" "$home/.config/containers"
    # rbuild: kernel overlay (rootless, kernel >= 5.13). rbnosub has no subordinate ids:
    # podman then maps only the user itself, and vfs avoids overlay's extra requirements.
    if [ "$user" = rbuild ]; then driver=overlay; else driver=vfs; fi
    write_file "$user" "$home/.config/containers/storage.conf" "# Written by scripts/setup-host.sh.
[storage]
driver = \"$driver\""
    write_file "$user" "$home/.config/containers/containers.conf" "$containers_conf"
    write_file "$user" "$home/.config/containers/registries.conf" "$registries_conf"
done

# --- Virtualenv with the project's dependencies ----------------------------------------------
install -d -m 0755 "$opt"
if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv"
    /usr/bin/python3 -m venv "$venv"
fi
stamp=$venv/.deps-$(sha256sum "$repo/pyproject.toml" | cut -c1-16)
if [ ! -e "$stamp" ]; then
    # Runtime dependencies, the test extra and the build backend (`make sync` installs the
    # project with --no-build-isolation: no download per install), from pyproject.toml.
    mapfile -t deps < <(/usr/bin/python3 - "$repo/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    meta = tomllib.load(f)
project = meta["project"]
deps = project.get("dependencies", []) + project.get("optional-dependencies", {}).get("test", [])
deps += meta.get("build-system", {}).get("requires", []) + ["wheel"]
print("\n".join(deps))
PY
)
    say "installing ${deps[*]} into $venv"
    # (The filter drops pip's notes about find-links folders this machine does not have.)
    "$venv/bin/pip" install -q --disable-pip-version-check "${deps[@]}" </dev/null \
        2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
    chmod -R go+rX "$venv"
    rm -f "$venv"/.deps-*
    touch "$stamp"
fi
