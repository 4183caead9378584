"""`cp` between a container and the host, and `export`, as tar streams.

The container side runs in a child standing in the container's root (rootaccess), root
of its user namespace; the host side is this process, the user. So files copied out
belong to the user, and files copied in belong to the container's root (0:0), or with
`archive` keep the ids they have on the host. Where a copy lands follows docker:

  SRC a directory: into DEST/basename(SRC) when DEST is a directory, as DEST when DEST
  does not exist; SRC ending in `/.` copies its contents. SRC a file: into DEST when DEST
  is a directory, else as DEST. `-` is a tar stream on stdin (in) or stdout (out).

Parent and child talk over a socket pair: one JSON line each way to agree on the
names, then the tar.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rootless_build.containers import rootaccess
from rootless_build.containers.catalog import Catalog
from rootless_build.containers.record import Container
from rootless_build.errors import ContainerError, UsageError


@dataclass(frozen=True)
class Placement:
    """Where a copied tree lands: extracted under `parent`, its top entry named `name`
    ("" when the contents of SRC go straight into `parent`)."""
    parent: str
    name: str


def place(src: str, src_is_dir: bool, dest: str, dest_kind: str | None, dest_parent_is_dir: bool,
          where: str) -> Placement:
    """docker's rules; dest_kind: "dir", "file" or None when DEST does not exist."""
    contents = src_is_dir and (src.endswith("/.") or src == ".")
    base = os.path.basename(os.path.normpath(src)) if src not in ("/", "/.") else ""
    if dest_kind == "dir":
        return Placement(dest, "" if contents or not base else base)
    if dest_kind is not None and src_is_dir:
        raise UsageError(f"cannot copy a directory to a file: {dest}{where}")
    if dest_kind is None and dest.endswith("/") and not src_is_dir:
        raise UsageError(f"no such directory: {dest}{where}")
    parent = os.path.dirname(dest.rstrip("/")) or "/"
    if not dest_parent_is_dir:
        raise UsageError(f"no such directory: {parent}{where}")
    return Placement(parent, os.path.basename(dest.rstrip("/")))


# -- out of the container ----------------------------------------------------------------

def copy_out(store, catalog: Catalog, container: Container, src: str, dest: str, *,
             follow: bool = False, out: BinaryIO | None = None) -> None:
    """SRC in the container to DEST on the host ("-": a tar on `out`)."""
    with rootaccess.held(store, catalog, container) as (container, scratch):
        parent_sock, child_sock = socket.socketpair()
        pid = rootaccess.fork_into_root(store, catalog, container, scratch)
        if pid == 0:
            parent_sock.close()
            _child_send(child_sock, src, follow)
        child_sock.close()
        try:
            with parent_sock, parent_sock.makefile("rb") as stream:
                info = _read_line(stream, container)
                if "error" in info:
                    raise ContainerError(f"Could not find the file {src} in container {container.name}")
                is_dir = info["kind"] == "dir"
                if dest == "-":
                    placement = Placement("", "" if is_dir and src.endswith("/.") else info["base"])
                else:
                    placement = _host_placement(src, is_dir, dest)
                parent_sock.sendall(json.dumps({"name": placement.name}).encode() + b"\n")
                if dest == "-":
                    _pump(stream, out or sys.stdout.buffer)
                else:
                    from rootless_build.layers.extract import extract_layer

                    extract_layer(stream, placement.parent, mode="archive", chown=False, skip_devices=True,
                                  on_warning=lambda m: None)
        finally:
            code = rootaccess.wait_child(pid)
        if code:
            raise ContainerError(f"copying {src} out of container {container.name} failed")


def _host_placement(src: str, is_dir: bool, dest: str) -> Placement:
    try:
        st = os.stat(dest)
        kind = "dir" if stat.S_ISDIR(st.st_mode) else "file"
    except FileNotFoundError:
        kind = None
    parent = os.path.dirname(os.path.abspath(dest.rstrip("/")) or "/")
    return place(src, is_dir, os.path.abspath(dest) + ("/" if dest.endswith("/") else ""), kind,
                 os.path.isdir(parent), "")


def _child_send(sock: socket.socket, src: str, follow: bool) -> None:
    """In the container's root: describe SRC, learn its name in the tar, send the tar."""
    code = 0
    try:
        with sock, sock.makefile("rb") as stream:
            path = os.path.normpath("/" + src.lstrip("/"))
            try:
                st = os.stat(path) if follow else os.lstat(path)
            except OSError as e:
                sock.sendall(json.dumps({"error": e.strerror}).encode() + b"\n")
                os._exit(0)
            if follow:
                path = os.path.realpath(path)
            kind = "dir" if stat.S_ISDIR(st.st_mode) else "file"
            base = os.path.basename(path) or "."
            sock.sendall(json.dumps({"kind": kind, "base": base}).encode() + b"\n")
            line = stream.readline()
            if not line:
                os._exit(0)         # the parent refused the copy
            name = json.loads(line)["name"]
            with sock.makefile("wb") as out:
                write_tar(path, name, out, skip=_kernel_trees(path, name))
    except BaseException as e:  # noqa: BLE001 - one line on stderr, a status for the parent
        os.write(2, f"Error: {e}\n".encode())
        code = 1
    os._exit(code)


def _kernel_trees(path: str, name: str):
    """Copying out `/`: the contents of /proc, /sys and /dev are the kernel's mounts, not the
    container's files (export leaves them out too)."""
    if path != "/":
        return None
    prefix = f"{name}/" if name else ""
    return lambda arc: arc.startswith((f"{prefix}proc/", f"{prefix}sys/", f"{prefix}dev/"))


def write_tar(path: str, name: str, out: BinaryIO, id_map=None, skip=None) -> None:
    """A tar of `path` (a tree or one entry) whose top entry is `name`."""
    from rootless_build.layers import xattrs as xa
    from rootless_build.layers.tarwriter import LayerTarWriter
    from rootless_build.layers.tree import TreeWalk, add_tree

    writer = LayerTarWriter(out)
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        add_tree(writer, Path(path), prefix=name, id_map=id_map, skip=skip)
    else:
        TreeWalk(writer, "none", id_map, None).emit(path, name, st, xa.list_all(path))
    writer.close()
    out.flush()


# -- into the container ------------------------------------------------------------------

def copy_in(store, catalog: Catalog, container: Container, src: str, dest: str, *,
            archive: bool = False, follow: bool = False, stdin: BinaryIO | None = None) -> None:
    """SRC on the host ("-": a tar on `stdin`) to DEST in the container."""
    if src != "-":
        try:
            st = os.stat(src) if follow else os.lstat(src)
        except OSError as e:
            raise UsageError(f"{src}: {e.strerror}") from None
        if follow:
            src = os.path.realpath(src)
    with rootaccess.held(store, catalog, container) as (container, scratch):
        parent_sock, child_sock = socket.socketpair()
        pid = rootaccess.fork_into_root(store, catalog, container, scratch)
        if pid == 0:
            parent_sock.close()
            _child_receive(child_sock, dest, keep_ids=archive)
        child_sock.close()
        try:
            with parent_sock, parent_sock.makefile("rb") as stream:
                info = _read_line(stream, container)
                where = f" in container {container.name}"
                if src == "-":
                    if info["kind"] != "dir":
                        raise UsageError(f"destination \"{dest}\" must be a directory{where}")
                    placement = Placement(info["path"], "")
                else:
                    placement = place(src, stat.S_ISDIR(st.st_mode), info["path"], info["kind"],
                                      info["parent_is_dir"], where)
                parent_sock.sendall(json.dumps({"parent": placement.parent}).encode() + b"\n")
                with parent_sock.makefile("wb") as out:
                    try:
                        if src == "-":
                            _pump(stdin or sys.stdin.buffer, out)
                        else:
                            write_tar(src, placement.name, out)
                    except BrokenPipeError:
                        pass        # the child gave up: its answer says why
                parent_sock.shutdown(socket.SHUT_WR)
                answer = _read_line(stream, container)
        finally:
            code = rootaccess.wait_child(pid)
        if "error" in answer:
            raise ContainerError(f"copying into container {container.name}: {answer['error']}")
        if code:
            raise ContainerError(f"copying into container {container.name} failed")


def _child_receive(sock: socket.socket, dest: str, keep_ids: bool) -> None:
    """In the container's root: describe DEST, then extract the tar under the parent chosen.
    Without keep_ids nothing is chowned: what root here creates belongs to the container's root."""
    from rootless_build.layers.extract import extract_layer

    try:
        with sock, sock.makefile("rb") as stream:
            path = os.path.normpath("/" + dest.lstrip("/")) + ("/" if dest.endswith("/") and dest != "/" else "")
            try:
                kind = "dir" if os.path.isdir(path) else "file" if os.path.lexists(path.rstrip("/")) else None
            except OSError:
                kind = None
            parent_is_dir = os.path.isdir(os.path.dirname(path.rstrip("/")) or "/")
            sock.sendall(json.dumps({"path": path, "kind": kind, "parent_is_dir": parent_is_dir}).encode() + b"\n")
            line = stream.readline()
            if not line:
                os._exit(0)         # the parent refused the copy
            parent = json.loads(line)["parent"]
            answer: dict[str, object]
            try:
                extract_layer(stream, parent, mode="archive", chown=keep_ids, skip_devices=True,
                              on_warning=lambda m: None)
                answer = {"ok": True}
            except Exception as e:  # noqa: BLE001 - reported as one line by the parent
                answer = {"error": str(e) or type(e).__name__}
            sock.sendall(json.dumps(answer).encode() + b"\n")
    except BaseException as e:  # noqa: BLE001
        os.write(2, f"Error: {e}\n".encode())
        os._exit(1)
    os._exit(0)


# -- export ------------------------------------------------------------------------------

def export(store, catalog: Catalog, container: Container, out_fd: int) -> None:
    """The container's whole filesystem as a tar on out_fd (volumes and the contents of
    /proc, /sys and /dev mounts of a running container left out, as docker does)."""
    with rootaccess.held(store, catalog, container) as (container, scratch):
        skipped = {"proc", "sys", "dev", *(m.destination.strip("/") for m in container.config.mounts)}
        pid = rootaccess.fork_into_root(store, catalog, container, scratch)
        if pid == 0:
            code = 0
            try:
                with os.fdopen(out_fd, "wb", closefd=False) as out:
                    from rootless_build.layers.tarwriter import LayerTarWriter
                    from rootless_build.layers.tree import add_tree

                    writer = LayerTarWriter(out)
                    add_tree(writer, Path("/"), skip=lambda arc: any(arc.startswith(s + "/") for s in skipped))
                    writer.close()
            except BaseException as e:  # noqa: BLE001
                os.write(2, f"Error: {e}\n".encode())
                code = 1
            os._exit(code)
        code = rootaccess.wait_child(pid)
    if code:
        raise ContainerError(f"exporting container {container.name} failed")


def _read_line(stream: BinaryIO, container: Container) -> dict:
    line = stream.readline()
    if not line:
        raise ContainerError(f"cannot reach the filesystem of container {container.name}")
    return json.loads(line)


def _pump(src: BinaryIO, dst: BinaryIO) -> None:
    while chunk := src.read(1 << 20):
        dst.write(chunk)
    dst.flush()
