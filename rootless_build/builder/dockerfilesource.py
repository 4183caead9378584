"""Finding and reading the Dockerfile, and the one question the CLI asks before a build:
does it have a RUN step (then the build runs in the user namespace)? Light imports only:
the CLI asks before deciding where to run the build."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rootless_build.builder.options import BuildOptions
from rootless_build.dockerfile.dockerfile import parse
from rootless_build.errors import RootlessBuildError, UsageError
from rootless_build.layers import safeopen

MAX_DOCKERFILE = 64 << 20


def read_dockerfile(options: BuildOptions) -> tuple[str, str, Path | None]:
    """(text, name for messages, path) of the Dockerfile; `-f -` reads stdin."""
    option = options.dockerfile
    if option == "-":
        text = options.dockerfile_text
        if text is None:
            text = sys.stdin.read()
        return text, "Dockerfile", None
    context = Path(options.context_dir)
    path = Path(option) if option else context / "Dockerfile"
    if option and not path.is_absolute() and not path.exists() and (context / option).exists():
        path = context / option
    if not path.exists() and not option and (context / "Containerfile").exists():
        path = context / "Containerfile"
    try:
        return _read(context, path).decode(errors="surrogateescape"), path.name, path
    except FileNotFoundError:
        raise UsageError(f"no Dockerfile found: {path}") from None
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None


def _read(context: Path, path: Path) -> bytes:
    """A Dockerfile inside the context is read through the context's fd, symlinks resolved
    inside it (layers.safeopen): a swap for a link to ~/.ssh/... cannot make it read outside.
    One given outside the context (-f /elsewhere/Dockerfile) is read by its path."""
    inside = safeopen.inside(path, (context,))
    if inside is None:
        return path.read_bytes()
    root_fd = os.open(context, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return safeopen.read_in_root(root_fd, inside, MAX_DOCKERFILE)
    finally:
        os.close(root_fd)


def has_run(options: BuildOptions) -> bool:
    """Whether the Dockerfile has a RUN step. An unreadable or invalid Dockerfile says no:
    the build itself then reports the problem."""
    try:
        text, name, _ = read_dockerfile(options)
        dockerfile = parse(text, name)
    except RootlessBuildError:
        return False
    return any(instruction.keyword == "RUN" for stage in dockerfile.stages for instruction in stage.instructions)
