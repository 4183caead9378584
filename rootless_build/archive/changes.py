"""`--change 'INSTRUCTION'` for import and commit: the instructions `docker import` and
`docker commit` accept, applied with the same rules as a Dockerfile's (oci.config)."""

from __future__ import annotations

from rootless_build.errors import UsageError
from rootless_build.oci import config as oc

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")


def apply_changes(inner: dict, changes: list[str]) -> dict:
    """The inner config ("config" object) after the changes, as a new dict."""
    from rootless_build.dockerfile.dockerfile import parse_instruction
    from rootless_build.dockerfile.expanded import expanded

    for text in changes:
        instruction = parse_instruction(text)
        if instruction.keyword not in ALLOWED:
            raise UsageError(f"--change: {instruction.keyword} is not supported here (use {', '.join(ALLOWED)})")
        env = dict(e.split("=", 1) for e in inner.get("Env") or [] if "=" in e)
        inner = oc.apply_instruction(inner, expanded(instruction, env, filename="--change"))
    return inner
