#!/bin/bash
# Build a Debian bookworm minbase rootfs tarball (numeric owners) for tests and benchmarks.
# Usage: make-debian-rootfs.sh OUT.tar
# The tarball is cached in $RB_TEST_CACHE (default /var/cache/rootless-build-test): the
# debootstrap run takes minutes, so later calls just copy the cached file. Needs root.
set -euo pipefail

out=${1:?usage: make-debian-rootfs.sh OUT.tar}
cache=${RB_TEST_CACHE:-/var/cache/rootless-build-test}
suite=bookworm
cached=$cache/debian-$suite-minbase.tar

deliver() {
    if ! [ "$out" -ef "$cached" ]; then
        # A hard link when possible: the tarballs are read-only inputs, no need to copy.
        ln -f "$cached" "$out.tmp.$$" 2>/dev/null || cp "$cached" "$out.tmp.$$"
        mv -f "$out.tmp.$$" "$out"
    fi
}

if [ -s "$cached" ]; then deliver; exit 0; fi
if [ "$(id -u)" != 0 ]; then
    echo "make-debian-rootfs.sh: $cached is missing and debootstrap needs root" >&2
    exit 1
fi

# The mirror this machine's apt already uses (deb822 .sources or one-line .list files),
# so no host is hard-coded: the first URI that serves the plain suite.
find_mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v s="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++;
             if ($(i + 1) == s) { print $i; exit } }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # Stanzas are separated by blank lines; keep enabled "deb" stanzas listing the suite.
        awk -v s="$suite" '
            function flush() { if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " s " ") && uris != "") { split(uris, u, " "); print u[1]; found = 1 }
                               types = ""; suites = ""; uris = ""; enabled = "" }
            /^[ \t]*$/ { flush(); if (found) exit; next }
            /^#/ { next }
            /^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
            /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
            /^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
            /^Enabled:/ { sub(/^Enabled:[ \t]*/, ""); enabled = tolower($0) }
            END { if (!found) flush() }' "$f"
    done
}
mirror=$(find_mirror | head -n1)
if [ -z "$mirror" ]; then
    echo "make-debian-rootfs.sh: no apt source for '$suite' found in /etc/apt" >&2
    exit 1
fi

mkdir -p "$cache"
chmod 0755 "$cache"
exec 9>"$cache/.debian.lock"
flock 9
if [ -s "$cached" ]; then deliver; exit 0; fi   # another run finished it while we waited

stage=$cache/debian-$suite.stage
# debootstrap mounts /proc (and maybe /sys) inside the target; an interrupted run can
# leave them mounted, and nothing may be deleted through them.
unmount_stage() {
    awk -v p="$stage/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r -n1 umount -l
}
remove_stage() { unmount_stage; rm -rf --one-file-system "$stage"; }
remove_stage
trap remove_stage EXIT
echo "make-debian-rootfs.sh: debootstrap --variant=minbase $suite from $mirror (takes minutes)" >&2
debootstrap --variant=minbase "$suite" "$stage" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
    tail -n 30 "$cache/debootstrap.log" >&2
    exit 1
}
unmount_stage
# What an image must not carry: the host's identity, downloaded package files, and
# device nodes (an unprivileged extraction cannot create them; the sandbox supplies /dev).
rm -rf "$stage"/var/cache/apt/archives/*.deb "$stage"/var/lib/apt/lists/* \
    "$stage"/dev/* "$stage"/proc/* "$stage"/sys/* "$stage"/run/* "$stage"/tmp/* \
    "$stage"/var/log/*.log "$stage"/var/log/apt/* "$stage"/var/cache/ldconfig/aux-cache
: >"$stage/etc/hostname"
rm -f "$stage/etc/resolv.conf"
mapfile -t top < <(cd "$stage" && LC_ALL=C ls -A)
tar -C "$stage" --sort=name --numeric-owner --xattrs -cf "$cached.tmp" "${top[@]}"
chmod 0644 "$cached.tmp"
mv -f "$cached.tmp" "$cached"
deliver
