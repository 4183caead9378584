#!/bin/bash
# Build a tiny, deterministic rootfs tarball from Debian's busybox-static.
# Usage: make-busybox-rootfs.sh OUT.tar [ARCH]
# Same busybox package -> byte-identical tarball (sorted names, mtime 0, owners 0:0).
# The result is cached in $RB_TEST_CACHE (default /var/cache/rootless-build-test) when
# that directory is writable, keyed on the busybox-static version (and ARCH).
# ARCH (a Debian architecture, e.g. arm64) other than the host's: the busybox-static
# package of that architecture, fetched with `apt-get download` (as root, after
# `dpkg --add-architecture ARCH && apt-get update`, which setup-host.sh does for arm64).
set -euo pipefail

out=${1:?usage: make-busybox-rootfs.sh OUT.tar [ARCH]}
host_arch=$(dpkg --print-architecture)
arch=${2:-$host_arch}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "make-busybox-rootfs.sh: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
version=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || sha256sum "$busybox" | cut -c1-16)
cache=${RB_TEST_CACHE:-/var/cache/rootless-build-test}
cached=$cache/busybox-${version//[^A-Za-z0-9.+-]/_}.tar
if [ "$arch" != "$host_arch" ]; then
    cached=$cache/busybox-$arch-${version//[^A-Za-z0-9.+-]/_}.tar
fi

deliver() {
    if ! [ "$out" -ef "$1" ]; then
        # A hard link when possible: the tarballs are read-only inputs, no need to copy.
        ln -f "$1" "$out.tmp.$$" 2>/dev/null || cp "$1" "$out.tmp.$$"
        mv -f "$out.tmp.$$" "$out"
    fi
}
if [ -s "$cached" ]; then deliver "$cached"; exit 0; fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/busybox-rootfs.XXXXXX")
trap 'rm -rf "$stage" "$stage.deb"' EXIT
umask 022
cd "$stage"
mkdir -p bin sbin usr/bin usr/sbin etc dev proc sys home root tmp var/tmp
if [ "$arch" != "$host_arch" ]; then
    # The same version as the host's, so the host binary can list the applets.
    (cd "$stage.deb" 2>/dev/null || { mkdir -p "$stage.deb" && cd "$stage.deb"; }
     apt-get download -q "busybox-static:$arch=$version" >/dev/null ||
         { echo "make-busybox-rootfs.sh: apt-get download busybox-static:$arch=$version failed" \
                "(run as root: dpkg --add-architecture $arch && apt-get update)" >&2; exit 1; }
     dpkg-deb -x ./busybox-static_*.deb root)
    cp "$stage.deb/root/bin/busybox" bin/busybox
    rm -rf "$stage.deb"
else
    cp "$busybox" bin/busybox
fi
chmod 0755 bin/busybox
# What `busybox --install -s` does, but relative to the staging dir instead of /.
"$busybox" --list-full | while read -r applet; do
    [ -e "$applet" ] || [ -L "$applet" ] || ln -s /bin/busybox "$applet"
done
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
    'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >etc/passwd
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >etc/group
chmod 0644 etc/passwd etc/group
chmod 0700 root
chmod 1777 tmp var/tmp

mapfile -t top < <(LC_ALL=C ls -A)
tmp_out=$stage.tar
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
    -cf "$tmp_out" "${top[@]}"
chmod 0644 "$tmp_out"
if mkdir -p "$cache" 2>/dev/null && [ -w "$cache" ]; then
    mv -f "$tmp_out" "$cached"
    deliver "$cached"
else
    mv -f "$tmp_out" "$out"
fi
