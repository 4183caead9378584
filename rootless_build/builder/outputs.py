"""Build outputs, `-o/--output` in BuildKit's syntax: where the built image goes besides the
store.

    type=local,dest=DIR        the final filesystem, written into DIR (owned by the user)
    type=tar,dest=FILE|-       the final filesystem as one tar (owners and modes kept)
    type=oci,dest=FILE|DIR|-[,tar=false]   an OCI image layout, as a tar or a directory
    type=docker,dest=FILE|-    a docker-archive, for `docker load`
    type=image,name=REF[,push=true]        a name in the store, pushed on request
    type=registry,name=REF     the same as type=image,push=true
    oci, docker, image and registry also take compression=gzip|zstd|zstd:chunked|uncompressed
    and compression-level=N (--compression-format/--compression-level set them for all)
    DIR                        short for type=local,dest=DIR; `-` for type=tar,dest=-
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from rootless_build.errors import UsageError
from rootless_build.record import Record, replace

TYPES = ("local", "tar", "oci", "docker", "image", "registry")
_COMPRESSION_KEYS = {"compression", "compression-level", "force-compression"}
_KEYS = {"local": {"dest"}, "tar": {"dest"}, "oci": {"dest", "tar", "name", *_COMPRESSION_KEYS},
         "docker": {"dest", "name", *_COMPRESSION_KEYS}, "image": {"name", "push", *_COMPRESSION_KEYS},
         "registry": {"name", "push", *_COMPRESSION_KEYS}}


class Output(Record, frozen=True):
    type: str
    dest: str | None = None
    name: str | None = None
    push: bool = False
    tar: bool = True
    compression: str | None = None  # a store.variants.compression_name() spec; None: the default


def parse_output(text: str) -> Output:
    """One -o value; a bad one is a one-line usage error naming it."""
    first = text.split(",", 1)[0]
    if "=" not in first:
        if "," in text or not text:
            raise UsageError(f"invalid --output {text!r}: expected DIR, - or type=TYPE,KEY=VALUE,...")
        return Output("tar", dest="-") if text == "-" else Output("local", dest=text)
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        if not eq or not key:
            raise UsageError(f"invalid --output {text!r}: {part!r} is not KEY=VALUE")
        fields[key] = value
    kind = fields.pop("type", "")
    if kind not in TYPES:
        raise UsageError(f"invalid --output {text!r}: type must be one of {', '.join(TYPES)}")
    unknown = sorted(fields.keys() - _KEYS[kind])
    if unknown:
        raise UsageError(f"invalid --output {text!r}: type={kind} takes no {unknown[0]!r}")
    output = Output(kind, dest=fields.get("dest") or None, name=fields.get("name") or None,
                    push=kind == "registry" or _flag(fields.get("push", "false"), text),
                    tar=_flag(fields.get("tar", "true"), text), compression=_compression(fields, text))
    if kind in ("local", "tar", "oci", "docker") and output.dest is None:
        raise UsageError(f"invalid --output {text!r}: type={kind} needs dest=")
    if kind == "local" and output.dest == "-":
        raise UsageError(f"invalid --output {text!r}: type=local writes a directory, not stdout (use type=tar)")
    if kind == "oci" and not output.tar and output.dest == "-":
        raise UsageError(f"invalid --output {text!r}: tar=false writes a directory, not stdout")
    return output


def _compression(fields: dict[str, str], text: str) -> str | None:
    kind, level = fields.get("compression"), fields.get("compression-level")
    if kind is None and level is None:
        return None
    from rootless_build.store.variants import compression_name

    if level is not None and not level.lstrip("-").isdigit():
        raise UsageError(f"invalid --output {text!r}: compression-level {level!r} is not a number")
    name = {"uncompressed": "none", None: "gzip"}.get(kind, kind) or "gzip"
    return compression_name(name, None if level is None else int(level))


def with_compression(outputs: list[Output], spec: str | None) -> list[Output]:
    """--compression-format/--compression-level: for every output that did not say."""
    if spec is None:
        return outputs
    return [o if o.compression is not None or o.type in ("local", "tar") else replace(o, compression=spec)
            for o in outputs]


def _flag(value: str, text: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", ""):
        return True
    if lowered in ("false", "0"):
        return False
    raise UsageError(f"invalid --output {text!r}: {value!r} is not true or false")


def check_outputs(outputs: list[Output], tags: list[str]) -> None:
    """What can be refused before the build starts."""
    if sum(1 for o in outputs if o.dest == "-") > 1:
        raise UsageError("only one --output can write to stdout")
    for output in outputs:
        if output.type in ("image", "registry") and not (output.name or tags):
            raise UsageError(f"--output type={output.type} needs name= (or -t)")
        if output.dest == "-" and sys.stdout.isatty():
            raise UsageError("refusing to write a tar to a terminal; redirect stdout or give dest=FILE")


def export(store: Any, image: Any, outputs: list[Output], *, tags: list[str], registry_options: Any = None,
           stdout: BinaryIO | None = None) -> None:
    """Write the stored, built `image` to every output, one after another."""
    for output in outputs:
        if output.type == "local":
            _to_directory(store, image, Path(output.dest or "."))
        elif output.type == "tar":
            _to_file(output.dest or "-", stdout, lambda out: _write_filesystem_tar(store, image, out))
        elif output.type in ("oci", "docker"):
            _archive(store, image, output, tags, stdout)
        else:
            _image(store, image, output, tags, registry_options)


def _to_directory(store: Any, image: Any, dest: Path) -> None:
    """Apply each layer in order into `dest`: whiteouts delete, nothing escapes `dest`,
    device nodes are skipped and files belong to the user (as BuildKit's local exporter)."""
    from rootless_build.layers.extract import extract_layer

    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--output {dest}: {e.strerror}") from None
    for digest in image.layer_digests:
        with store.blobs.open(digest) as f:
            extract_layer(f, dest, mode="apply", chown=False, skip_devices=True)


def _write_filesystem_tar(store: Any, image: Any, out: BinaryIO) -> None:
    from rootless_build.builder import flatten
    from rootless_build.builder.imagefs import ImageFS
    from rootless_build.layers.tarwriter import LayerTarWriter

    tree = ImageFS.of_image(store, image)
    try:
        tar = LayerTarWriter(out)
        flatten.write_tree(tree, tar)
        tar.close()
    finally:
        tree.close()


def _to_file(dest: str, stdout: BinaryIO | None, write: Callable[[BinaryIO], None]) -> None:
    """Write to stdout, or to a temp file beside `dest` renamed into place when complete."""
    if dest == "-":
        out = stdout or sys.stdout.buffer
        write(out)
        out.flush()
        return
    path = Path(dest)
    if path.is_dir():
        raise UsageError(f"--output dest={dest} is a directory; give a file name")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.",
                                   suffix=".tmp")
    except OSError as e:
        raise UsageError(f"--output dest={dest}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o644 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _archive(store: Any, image: Any, output: Output, tags: list[str], stdout: BinaryIO | None) -> None:
    """type=oci / type=docker: `save` of the image under its name (name=, else the first tag)."""
    from rootless_build.archive.save import save

    name = output.name or (tags[0] if tags else None)
    if name and name not in image.tags:
        store.tag(image, name)
    fmt = "docker-archive" if output.type == "docker" else ("oci-archive" if output.tar else "oci-dir")
    if output.dest == "-":
        save(store, [name or image.id], None, fmt, output.compression, stream=stdout or sys.stdout.buffer)
    else:
        save(store, [name or image.id], output.dest, fmt, output.compression)


def _image(store: Any, image: Any, output: Output, tags: list[str], registry_options: Any) -> None:
    names = [n for n in (output.name or "").split(",") if n] or tags
    for name in names:
        store.tag(image, name)
        if output.push:
            from rootless_build.registry.push import push

            push(store, name, options=registry_options, compression=output.compression or "gzip")
