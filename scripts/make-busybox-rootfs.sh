#!/bin/bash
# Build a tiny, deterministic rootfs tarball from Debian's busybox-static.
# Usage: make-busybox-rootfs.sh OUT.tar
# Same busybox package -> byte-identical tarball (sorted names, mtime 0, owners 0:0).
# The result is cached in $RB_TEST_CACHE (default /var/cache/rootless-build-test) when
# that directory is writable, keyed on the busybox-static version.
set -euo pipefail

out=${1:?usage: make-busybox-rootfs.sh OUT.tar}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "make-busybox-rootfs.sh: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
version=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || sha256sum "$busybox" | cut -c1-16)
cache=${RB_TEST_CACHE:-/var/cache/rootless-build-test}
cached=$cache/busybox-${version//[^A-Za-z0-9.+-]/_}.tar

deliver() {
    if ! [ "$out" -ef "$1" ]; then
        # A hard link when possible: the tarballs are read-only inputs, no need to copy.
        ln -f "$1" "$out.tmp.$$" 2>/dev/null || cp "$1" "$out.tmp.$$"
        mv -f "$out.tmp.$$" "$out"
    fi
}
if [ -s "$cached" ]; then deliver "$cached"; exit 0; fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/busybox-rootfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
umask 022
cd "$stage"
mkdir -p bin sbin usr/bin usr/sbin etc dev proc sys home root tmp var/tmp
cp "$busybox" bin/busybox
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
