"""Timestamps and the `created_by` texts of history entries, shaped as buildah writes them."""

from __future__ import annotations

import os
import time

from rootless_build.errors import UsageError

NOP = "/bin/sh -c #(nop) "


def source_date_epoch() -> int | None:
    """SOURCE_DATE_EPOCH in seconds, or None; a malformed value is a usage error."""
    text = os.environ.get("SOURCE_DATE_EPOCH")
    if text is None or text == "":
        return None
    if not text.isdigit():
        raise UsageError(f"SOURCE_DATE_EPOCH must be a number of seconds, not {text!r}")
    return int(text)


def build_epochs(options, build_args) -> tuple[int | None, int | None]:
    """(the time history entries and `created` get, the clamp on new layers' mtimes).

    --timestamp sets both. --source-date-epoch, else `--build-arg SOURCE_DATE_EPOCH` (as
    BuildKit reads it; a stage that declares the ARG sees it), sets the first, and the
    clamp too with --rewrite-timestamp. The SOURCE_DATE_EPOCH environment variable, as
    before these flags, sets both."""
    if options.timestamp is not None:
        return options.timestamp, options.timestamp
    if options.source_date_epoch is not None:
        build_args.given.setdefault("SOURCE_DATE_EPOCH", str(options.source_date_epoch))
    given = build_args.given.get("SOURCE_DATE_EPOCH")
    if given is not None:
        build_args.used.add("SOURCE_DATE_EPOCH")  # consumed by the build itself
        if not given.isdigit():
            raise UsageError(f"SOURCE_DATE_EPOCH must be a number of seconds, not {given!r}")
        dated = int(given)
        return dated, dated if options.rewrite_timestamp else None
    from_env = source_date_epoch()
    return from_env, from_env


def now_ns(epoch: int | None) -> int:
    """The time to record: now, clamped to SOURCE_DATE_EPOCH when that is set."""
    now = time.time_ns()
    if epoch is not None:
        return min(now, epoch * 1_000_000_000)
    return now


def nop(text: str) -> str:
    """A metadata instruction's history: `/bin/sh -c #(nop) ENV K=V`."""
    return NOP + text


def copy_created_by(keyword: str, flags: list[str], described: str, dest: str) -> str:
    """`/bin/sh -c #(nop) COPY --chown=1:1 file:<hash> in /dest ` (the trailing blank is docker's)."""
    prefix = "".join(f"{flag} " for flag in flags)
    return f"{NOP}{keyword} {prefix}{described} in {dest} "


def run_created_by(shell_command: list[str], args: dict[str, str]) -> str:
    """RUN's history: `/bin/sh -c cmd`, or `|2 A=1 B=2 /bin/sh -c cmd` when build args apply."""
    text = " ".join(shell_command)
    if not args:
        return text
    pairs = " ".join(f"{k}={v}" for k, v in args.items())
    return f"|{len(args)} {pairs} {text}"
